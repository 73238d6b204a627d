// The pod sandbox ("pause") binary for the test cluster's containerd
// (sandbox_image). Built by scripts/ensure-k8s-tools.sh; no dependencies.
module fte.local/tools/pause

go 1.24
