//go:build tools

// Package tools only records the binary this module exists to build.
// Build with: go build go.etcd.io/etcd/server/v3
package tools

import _ "go.etcd.io/etcd/server/v3"
