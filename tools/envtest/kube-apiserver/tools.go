//go:build tools

// Package tools only records the binaries this module exists to build, so that
// `go mod tidy` keeps every dependency of them in go.mod/go.sum. One module
// builds the whole node (same k8s.io/kubernetes version for every component):
// go build k8s.io/kubernetes/cmd/<component>
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
