//go:build tools

// Package tools only records the binary this module exists to build.
// Build with: go build github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold
package tools

import _ "github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold"
