#!/usr/bin/env bash
# Installs and builds everything the test suite needs on a fresh machine; idempotent, fails loudly.
# Node dependencies come from `make deps` (npm ci); this script covers what npm cannot bring:
#   - git (the vault protocol), openssl (test certificates)
#   - Dovecot and Postfix (real IMAP/LMTP/SMTP servers on loopback)
#   - kube-apiserver, etcd and helm, built from Go modules and cached by version (~15 min the first time)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in git openssl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-setup: installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

bash scripts/ensure-mail-servers.sh
bash scripts/ensure-k8s-tools.sh
echo "test-setup: ready"
