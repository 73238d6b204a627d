//go:build tools

// Package tools only records the binary this module exists to build, so that
// `go mod tidy` keeps every dependency of kube-apiserver in go.mod/go.sum.
// Build with: go build k8s.io/kubernetes/cmd/kube-apiserver
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
