#!/usr/bin/env bash
# Installs and builds everything the test suite needs on a fresh machine; idempotent, fails loudly.
# Node dependencies come from `make deps` (npm ci); this script covers what npm cannot bring:
#   - git (the vault protocol), openssl (test certificates), systemd (systemd-analyze verify checks the
#     unit `fte executor install` writes; nothing is started)
#   - Dovecot and Postfix (real IMAP/LMTP/SMTP servers on loopback)
#   - the single-node Kubernetes cluster's Debian packages: containerd, runc, the CNI plugins
#     (/usr/lib/cni), iptables (kube-proxy), buildah + skopeo + mmdebstrap (images),
#     qemu-user-static + binfmt-support + arch-test + binutils-aarch64-linux-gnu (arm64 images; the
#     cross strip keeps Node.js's debug symbols out of them), curl + iproute2 (the node's
#     network namespace and its probes), openssh-server (the git host the chart's pods clone from
#     over ssh, run by the tests inside the node's namespace; never as a system service), docker-registry (the Docker
#     distribution registry v2.8, /usr/bin/docker-registry, run by the harness on loopback)
#   - kube-apiserver, kubelet, kube-controller-manager, kube-scheduler, kube-proxy, etcd, helm,
#     skaffold and the pause binary, built from Go modules and cached by version
#     (scripts/ensure-k8s-tools.sh; ~30-40 min on 2 cores the first time, instant afterwards)
# Never installs kubernetes-client: it conflicts with the kubectl already on the machines.
# Only missing packages are installed; when apt-get is needed it needs root (or passwordless sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "test-setup: ERROR: $*" >&2; exit 1; }

# Each package with a binary it must provide. git and openssl count as present when on PATH; the
# cluster's packages must also be dpkg-installed (a stray binary says little about its version).
# fuse-overlayfs and uidmap: buildah's storage helpers, installed with the rest where this was
# verified (apt-get --no-install-recommends).
PACKAGES=(
  git openssl curl iproute2 systemd
  containerd runc containernetworking-plugins iptables
  buildah skopeo mmdebstrap fuse-overlayfs uidmap
  qemu-user-static binfmt-support arch-test binutils-aarch64-linux-gnu
  docker-registry openssh-server
  chromium
)
declare -A BINARY=(
  [fuse-overlayfs]=fuse-overlayfs [uidmap]=newuidmap
  [systemd]=systemd-analyze
  [git]=git [openssl]=openssl [curl]=curl [iproute2]=ip [binutils-aarch64-linux-gnu]=aarch64-linux-gnu-strip
  [containerd]=containerd [runc]=runc [containernetworking-plugins]=/usr/lib/cni/bridge
  [iptables]=iptables [buildah]=buildah [skopeo]=skopeo [mmdebstrap]=mmdebstrap
  [qemu-user-static]=qemu-aarch64-static [binfmt-support]=update-binfmts [arch-test]=arch-test
  [docker-registry]=/usr/bin/docker-registry [openssh-server]=/usr/sbin/sshd
  [chromium]=/usr/bin/chromium
)
have() { [[ "$1" == /* ]] && [[ -x "$1" ]] || command -v "$1" >/dev/null 2>&1; }

# One dpkg-query for all (its exit status is non-zero when some package is unknown).
declare -A INSTALLED=()
if command -v dpkg-query >/dev/null 2>&1; then
  while read -r pkg status; do
    [[ "$status" == "install ok installed" ]] && INSTALLED[$pkg]=1
  done < <(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! have "${BINARY[$pkg]}"; then
    missing+=("$pkg")
  elif [[ "$pkg" != git && "$pkg" != openssl && "$pkg" != curl && "$pkg" != iproute2 ]] && command -v dpkg-query >/dev/null 2>&1 && [[ -z "${INSTALLED[$pkg]-}" ]]; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-setup: installing ${missing[*]}"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${missing[*]} with this system's package manager"
  SUDO=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null \
      || die "need root to install ${missing[*]} (run this script as root or with passwordless sudo)"
    SUDO=(sudo -n)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
  # The harness runs private containerd and registry instances; a system service this run just
  # installed (where systemd starts it) is only an open port, so it is stopped and disabled.
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    for svc in docker-registry containerd; do
      if [[ " ${missing[*]} " == *" $svc "* ]]; then
        "${SUDO[@]}" systemctl disable --now "$svc.service" >/dev/null 2>&1 \
          && echo "test-setup: disabled the system $svc service (the tests start their own)" || true
      fi
    done
  fi
  for pkg in "${missing[@]}"; do
    have "${BINARY[$pkg]}" || die "$pkg was installed but ${BINARY[$pkg]} is still missing"
  done
fi
out="$(/usr/bin/docker-registry --version 2>&1)" || die "/usr/bin/docker-registry --version failed: $out"

bash scripts/ensure-mail-servers.sh
bash scripts/ensure-k8s-tools.sh
echo "test-setup: ready"
