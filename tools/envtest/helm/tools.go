//go:build tools

// Package tools only records the binary this module exists to build.
// Build with: go build helm.sh/helm/v3/cmd/helm
package tools

import _ "helm.sh/helm/v3/cmd/helm"
