#!/usr/bin/env bash
# ensure-k8s-tools.sh — build (once) and cache the real Kubernetes binaries the
# integration tests use (tests/harness/kube.ts): kube-apiserver, etcd and helm
# for the bare API server, plus kubelet, kube-controller-manager,
# kube-scheduler, kube-proxy, skaffold and a pause binary for the single-node
# cluster that runs pods.
#
# No package registry ships them, so they are compiled from Go modules,
# envtest-style, from the pinned wrapper modules under tools/:
#   tools/envtest/kube-apiserver  k8s.io/kubernetes (+ staging replaces): kube-apiserver,
#                                 kubelet, kube-controller-manager, kube-scheduler, kube-proxy
#   tools/envtest/etcd            go.etcd.io/etcd/server/v3
#   tools/envtest/helm            helm.sh/helm/v3
#   tools/envtest/skaffold        github.com/GoogleContainerTools/skaffold/v2 (its replaces copied)
#   tools/pause                   the pod sandbox process (no dependencies)
# The version of each tool is read from its go.mod (pause: a hash of its
# sources); bumping a go.mod therefore builds a new cache entry. The five
# Kubernetes binaries share one module and, when missing, one `go build`.
#
# Cache layout (only missing entries are built, each verified with --version):
#   ${FTE_TOOLS_CACHE:-$HOME/.cache/fte-tools}/<tool>-<version>/<tool>
#     kube-apiserver, kubelet, kube-controller-manager, kube-scheduler, kube-proxy
#     (v1.34.4, 70-100 MB each), etcd (26 MB), helm (59 MB), skaffold (104 MB),
#     pause-src-<hash>/pause (1.6 MB, static)
#   ${FTE_TOOLS_CACHE:-$HOME/.cache/fte-tools}/k8s-tools.env   (KUBE_APISERVER=, KUBELET=,
#     KUBE_CONTROLLER_MANAGER=, KUBE_SCHEDULER=, KUBE_PROXY=, ETCD=, HELM=, SKAFFOLD=, PAUSE=,
#     DOCKER_REGISTRY= when Debian's docker-registry is installed, and *_VERSION=)
# Times measured on 2 busy cores (Go 1.26): the five Kubernetes binaries from an
# empty build cache ~16 min (one go build; 0.6 GB of modules, 2.9 GB of build
# cache), the four node binaries alone ~1 min once kube-apiserver's build cache
# is warm, etcd ~1-2 min, helm ~2-4 min, skaffold ~10 min (2.3 GB of modules,
# ~2 GB of build cache); a cold machine needs ~30-40 min and ~8 GB of Go
# module/build caches in all. A warm run (everything cached) takes well under a
# second.
#
# Environment:
#   FTE_TOOLS_CACHE    cache directory (default: $HOME/.cache/fte-tools)
#   FTE_BUILD_JOBS     go build -p parallelism (default: number of CPUs, max 4)
#   GOMODCACHE/GOCACHE are honoured as usual (Go defaults are fine).
#
# Exit status is non-zero, with an "ensure-k8s-tools: ERROR" line, if any build fails.
set -Eeuo pipefail

log() { printf 'ensure-k8s-tools: %s\n' "$*" >&2; }
die() { printf 'ensure-k8s-tools: ERROR: %s\n' "$*" >&2; exit 1; }

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENVTEST_DIR="$REPO_ROOT/tools/envtest"
CACHE_DIR="${FTE_TOOLS_CACHE:-$HOME/.cache/fte-tools}"
ENV_FILE="$CACHE_DIR/k8s-tools.env"

command -v go >/dev/null 2>&1 || die "go is not installed (need Go >= 1.26, see tools/envtest/*/go.mod)"

# Modest parallelism: kube-apiserver is a big link, and CI/dev boxes have 2 cores.
ncpu="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"
JOBS="${FTE_BUILD_JOBS:-$(( ncpu > 4 ? 4 : ncpu ))}"

# -mod=mod: resolve straight from go.mod/go.sum even if the tools.go build tag
# hides some imports from the build list; builds run in a scratch copy of the
# wrapper module so the repository's go.mod/go.sum are never rewritten.
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

mkdir -p "$CACHE_DIR"

# Serialise concurrent runs (e.g. parallel make targets or test workers).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_DIR/.lock"
  if ! flock -n 9; then
    log "another ensure-k8s-tools run holds $CACHE_DIR/.lock; waiting…"
    flock 9
  fi
fi

# module_version <module dir> <module path>: the required version from go.mod.
module_version() {
  local v
  v="$(awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { for (i = 1; i <= NF; i++) if ($i ~ /^v[0-9]/) { print $i; exit } }' "$1/go.mod")"
  [[ -n "$v" ]] || die "cannot find the version of $2 in $1/go.mod"
  printf '%s\n' "$v"
}

# module_time <module>@<version>: the module's release timestamp, used as a
# reproducible build date instead of "now".
module_time() {
  (cd "$1" && go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' "$2" 2>/dev/null) || true
}

TMP_DIRS=()
cleanup() { local d; for d in "${TMP_DIRS[@]+"${TMP_DIRS[@]}"}"; do rm -rf -- "$d"; done; }
trap cleanup EXIT
trap 'die "interrupted"' INT TERM

# build_tools <version> <module dir> <ldflags> <tags> <name>=<package>… -- <verify args…>
# Builds every tool of the group that is not cached yet in ONE `go build`
# (shared compilation), into a temp dir inside the cache, then verifies each
# binary with `<binary> <verify args…>` and renames it into place, so a
# half-built or interrupted build never looks like a cache hit.
build_tools() {
  local version="$1" moddir="$2" ldflags="$3" tags="$4"; shift 4
  local names=() pkgs=() spec name
  while [[ $# -gt 0 && "$1" != -- ]]; do
    spec="$1"; shift
    name="${spec%%=*}"
    if [[ -x "$CACHE_DIR/$name-$version/$name" ]]; then
      log "cached   $name $version ($CACHE_DIR/$name-$version/$name)"
    else
      names+=("$name"); pkgs+=("${spec#*=}")
    fi
  done
  [[ "${1-}" == -- ]] && shift
  [[ ${#names[@]} -gt 0 ]] || return 0

  local hint=""
  case "${names[*]}" in
    kube-apiserver\ kubelet*) hint=" (first run takes ~15-25 min)" ;;
    kube-apiserver) hint=" (first run takes ~10-15 min)" ;;
    kubelet*) hint=" (~5-10 min on 2 cores, ~1 min with a warm kube-apiserver build cache)" ;;
    etcd) hint=" (~1-2 min)" ;;
    helm) hint=" (~2-4 min)" ;;
    skaffold) hint=" (first run takes ~10-20 min)" ;;
  esac
  log "building ${names[*]} $version$hint…"

  local tmp src start=$SECONDS out
  tmp="$(mktemp -d "$CACHE_DIR/.tmp.${names[0]}-$version.XXXXXX")"
  TMP_DIRS+=("$tmp")
  src="$tmp/src"
  mkdir -p "$src" "$tmp/bin"
  cp "$moddir/go.mod" "$moddir"/*.go "$src/"
  [[ ! -f "$moddir/go.sum" ]] || cp "$moddir/go.sum" "$src/"

  # One package: name the binary explicitly (etcd's package path ends in /v3);
  # several: `-o dir/` names each binary after its package path's last element.
  out="$tmp/bin/"
  [[ ${#pkgs[@]} -eq 1 ]] && out="$tmp/bin/${names[0]}"
  if ! (cd "$src" && go build -p "$JOBS" -trimpath ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$out" "${pkgs[@]}"); then
    die "building ${names[*]} $version from $moddir failed (see the go output above)"
  fi
  local secs=$(( SECONDS - start )) final
  for name in "${names[@]}"; do
    [[ -x "$tmp/bin/$name" ]] || die "go build did not produce $name (from $moddir)"
    mkdir "$tmp/$name"
    mv -- "$tmp/bin/$name" "$tmp/$name/$name"
    if ! out="$("$tmp/$name/$name" "$@" 2>&1)"; then
      die "$name $version was built but '$name $*' failed: $out"
    fi
    final="$CACHE_DIR/$name-$version"
    if ! mv -T -- "$tmp/$name" "$final" 2>/dev/null; then
      # Lost a race with another builder (no flock available): keep theirs.
      [[ -x "$final/$name" ]] || die "cannot move $name into $final"
    fi
    log "built    $name $version in ${secs}s$([[ ${#names[@]} -gt 1 ]] && echo " (one go build for ${#names[@]})"): $(head -n 1 <<<"$out")"
  done
  rm -rf -- "$tmp"
}

# build_tool <name> <version> <module dir> <package> <ldflags> <verify args…>
build_tool() {
  local name="$1" version="$2" moddir="$3" pkg="$4" ldflags="$5"; shift 5
  build_tools "$version" "$moddir" "$ldflags" "" "$name=$pkg" -- "$@"
}

# ------------------------------------------- kube-apiserver and the node binaries
# All five come from the same wrapper module (same k8s.io/kubernetes version);
# whatever is missing is built in one go build, sharing compilation.
KUBE_DIR="$ENVTEST_DIR/kube-apiserver"
KUBE_VERSION="$(module_version "$KUBE_DIR" k8s.io/kubernetes)"
kube_minor="${KUBE_VERSION#v1.}"; kube_minor="${kube_minor%%.*}"
kube_date="$(module_time "$KUBE_DIR" "k8s.io/kubernetes@$KUBE_VERSION")"
kube_ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$kube_minor"
  kube_ldflags+=" -X $p.gitTreeState=clean"
  [[ -n "$kube_date" ]] && kube_ldflags+=" -X $p.buildDate=$kube_date"
done
KUBE_BINARIES=(kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy)
kube_specs=()
for b in "${KUBE_BINARIES[@]}"; do kube_specs+=("$b=k8s.io/kubernetes/cmd/$b"); done
build_tools "$KUBE_VERSION" "$KUBE_DIR" "$kube_ldflags" "" "${kube_specs[@]}" -- --version

# -------------------------------------------------------------------------- etcd
ETCD_DIR="$ENVTEST_DIR/etcd"
ETCD_VERSION="$(module_version "$ETCD_DIR" go.etcd.io/etcd/server/v3)"
build_tool etcd "$ETCD_VERSION" "$ETCD_DIR" go.etcd.io/etcd/server/v3 \
  "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$ETCD_VERSION" --version

# -------------------------------------------------------------------------- helm
HELM_DIR="$ENVTEST_DIR/helm"
HELM_VERSION="$(module_version "$HELM_DIR" helm.sh/helm/v3)"
# helm's Makefile derives the default .Capabilities.KubeVersion from the
# client-go it was built with (k8s.io/client-go v0.X.y -> 1.X).
helm_k8s_minor="$(awk '$1 == "k8s.io/client-go" { v = $2; sub(/^v0\./, "", v); sub(/\..*/, "", v); print v; exit }' "$HELM_DIR/go.mod")"
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
if [[ -n "$helm_k8s_minor" ]]; then
  for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    helm_ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$helm_k8s_minor"
  done
fi
build_tool helm "$HELM_VERSION" "$HELM_DIR" helm.sh/helm/v3/cmd/helm "$helm_ldflags" version --short

# ---------------------------------------------------------------------- skaffold
SKAFFOLD_DIR="$ENVTEST_DIR/skaffold"
SKAFFOLD_MOD=github.com/GoogleContainerTools/skaffold/v2
SKAFFOLD_VERSION="$(module_version "$SKAFFOLD_DIR" "$SKAFFOLD_MOD")"
if [[ ! -x "$CACHE_DIR/skaffold-$SKAFFOLD_VERSION/skaffold" ]]; then
  # As skaffold's Makefile stamps it: version, the release's commit, its date.
  sk_info="$(cd "$SKAFFOLD_DIR" && go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}} {{with .Origin}}{{.Hash}}{{end}}' "$SKAFFOLD_MOD@$SKAFFOLD_VERSION" 2>/dev/null)" || sk_info=""
  read -r sk_date sk_commit <<<"$sk_info" || true
  p="$SKAFFOLD_MOD/pkg/skaffold/version"
  sk_ldflags="-s -w -X $p.version=$SKAFFOLD_VERSION"
  [[ -n "${sk_date-}" ]] && sk_ldflags+=" -X $p.buildDate=$sk_date"
  [[ -n "${sk_commit-}" ]] && sk_ldflags+=" -X $p.gitCommit=$sk_commit"
  # The build tags of skaffold's static Linux release (timetzdata embeds the zoneinfo).
  build_tools "$SKAFFOLD_VERSION" "$SKAFFOLD_DIR" "$sk_ldflags" "timetzdata osusergo netgo release" \
    "skaffold=$SKAFFOLD_MOD/cmd/skaffold" -- version
else
  log "cached   skaffold $SKAFFOLD_VERSION ($CACHE_DIR/skaffold-$SKAFFOLD_VERSION/skaffold)"
fi

# ------------------------------------------------------------------------- pause
# The pod sandbox binary (containerd's sandbox_image is built from it by the
# cluster harness). No dependencies; keyed by the hash of its sources.
PAUSE_DIR="$REPO_ROOT/tools/pause"
PAUSE_VERSION="src-$(cat "$PAUSE_DIR/go.mod" "$PAUSE_DIR"/*.go | sha256sum | cut -c1-12)"
build_tool pause "$PAUSE_VERSION" "$PAUSE_DIR" . "-s -w -X main.version=$PAUSE_VERSION" --version

# ---------------------------------------------------------------------- env file
env_tmp="$(mktemp "$CACHE_DIR/.k8s-tools.env.XXXXXX")"
TMP_DIRS+=("$env_tmp")
{
  echo "# Written by scripts/ensure-k8s-tools.sh; read by tests/harness/kube.ts."
  for b in "${KUBE_BINARIES[@]}"; do
    v="${b^^}"; v="${v//-/_}"
    echo "$v=$CACHE_DIR/$b-$KUBE_VERSION/$b"
  done
  echo "ETCD=$CACHE_DIR/etcd-$ETCD_VERSION/etcd"
  echo "HELM=$CACHE_DIR/helm-$HELM_VERSION/helm"
  echo "SKAFFOLD=$CACHE_DIR/skaffold-$SKAFFOLD_VERSION/skaffold"
  echo "PAUSE=$CACHE_DIR/pause-$PAUSE_VERSION/pause"
  # Debian's docker-registry package (scripts/test-setup.sh installs it).
  if reg="$(command -v docker-registry 2>/dev/null)"; then echo "DOCKER_REGISTRY=$reg"; fi
  echo "KUBE_APISERVER_VERSION=$KUBE_VERSION"
  echo "KUBE_VERSION=$KUBE_VERSION"
  echo "ETCD_VERSION=$ETCD_VERSION"
  echo "HELM_VERSION=$HELM_VERSION"
  echo "SKAFFOLD_VERSION=$SKAFFOLD_VERSION"
  echo "PAUSE_VERSION=$PAUSE_VERSION"
} >"$env_tmp"
chmod 644 "$env_tmp"
mv -f -- "$env_tmp" "$ENV_FILE"
log "wrote $ENV_FILE"
grep -v '^#' "$ENV_FILE"
