#!/usr/bin/env bash
# Builds the fte image for amd64 and arm64 with buildah (no Docker daemon), from the local bases of
# scripts/build-base-image.sh, as one manifest list `localhost/fte:<tag>` over `localhost/fte:<tag>-<arch>`.
# Layers are cached: a second run with unchanged sources only checks them.
#
# Usage: scripts/build-image.sh [--tag TAG] [--arch amd64,arm64] [--push REGISTRY] [--export ARCH=FILE]
#   --tag TAG           image tag (default: package.json's version)
#   --arch LIST         architectures (default: amd64,arm64)
#   --push REGISTRY     push the manifest list to docker://REGISTRY/fte:TAG (no TLS verification: a local
#                       registry such as `docker-registry` on localhost:5000)
#   --export ARCH=FILE  also write that architecture's image as a docker archive, for
#                       `ctr -n k8s.io images import FILE` (repeatable)
# Storage: buildah's own root under $FTE_TOOLS_CACHE/images (default ~/.cache/fte-tools/images), never
# /var/lib/containers. Progress goes to stderr; stdout gets, last, machine-readable lines:
#   storage --root DIR --runroot DIR
#   manifest localhost/fte:TAG
#   image ARCH localhost/fte:TAG-ARCH BYTES          (BYTES: uncompressed size, all layers)
set -euo pipefail

say() { printf 'image: %s\n' "$*" >&2; }
die() {
  printf 'image: error: %s\n' "$*" >&2
  exit 1
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TAG=$(node -p "require('$REPO/package.json').version")
ARCHES=(amd64 arm64)
PUSH=""
EXPORTS=()
while [[ $# -gt 0 ]]; do
  case $1 in
  --tag) TAG=${2:?--tag needs a value} && shift 2 ;;
  --arch) IFS=, read -r -a ARCHES <<<"${2:?--arch needs a value}" && shift 2 ;;
  --push) PUSH=${2:?--push needs a registry, e.g. localhost:5000} && shift 2 ;;
  --export) EXPORTS+=("${2:?--export needs ARCH=FILE}") && shift 2 ;;
  *) die "unknown argument $1 (see the top of $0)" ;;
  esac
done

command -v buildah >/dev/null || die "buildah not found: apt-get install -y buildah"
CACHE=${FTE_TOOLS_CACHE:-$HOME/.cache/fte-tools}/images
STORAGE=(--root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver overlay)
# One build at a time per cache (tests build in parallel): concurrent builds on one storage trip over each
# other's intermediate containers.
mkdir -p "$CACHE"
exec 8>"$CACHE/.build.lock"
flock 8
HOST_ARCH=$(dpkg --print-architecture)
MANIFEST="localhost/fte:$TAG"

say "step 1/4: base images (${ARCHES[*]}, and $HOST_ARCH for the build stage)"
declare -A BASE BUILD
wanted=("${ARCHES[@]}")
[[ " ${ARCHES[*]} " == *" $HOST_ARCH "* ]] || wanted+=("$HOST_ARCH")
while read -r arch base build; do
  BASE[$arch]=$base
  BUILD[$arch]=$build
done < <(bash "$REPO/scripts/build-base-image.sh" "${wanted[@]}")
[[ -n ${BUILD[$HOST_ARCH]:-} ]] || die "no build image for $HOST_ARCH"
# The build stage is named by image ID: buildah 1.28 looks a name up for the target platform and, not finding
# an arm64 build image, tries to pull it; an ID is used as is, so stage 1 runs natively for every target.
BUILD_ID=$(buildah "${STORAGE[@]}" inspect --type image --format '{{.FromImageID}}' "${BUILD[$HOST_ARCH]}")

# `npm ci` in the build stage must trust what this machine's npm trusts (e.g. a TLS-inspecting proxy's CA).
CA_FILE=${FTE_BUILD_CA_FILE:-${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}}
SECRETS=()
if [[ -n $CA_FILE && $CA_FILE != null && -f $CA_FILE ]]; then
  SECRETS=(--secret "id=npm_ca,src=$CA_FILE")
fi

step=0
for arch in "${ARCHES[@]}"; do
  step=$((step + 1))
  say "step 2/4: building localhost/fte:$TAG-$arch (${step}/${#ARCHES[@]}; from ${BASE[$arch]})"
  start=$(date +%s)
  buildah "${STORAGE[@]}" bud --layers --network=host --quiet \
    --platform "linux/$arch" "${SECRETS[@]}" \
    --build-arg "BUILD_IMAGE=$BUILD_ID" \
    --build-arg "BASE_IMAGE=${BASE[$arch]}" \
    -f "$REPO/Dockerfile" -t "localhost/fte:$TAG-$arch" "$REPO" >/dev/null ||
    die "buildah bud failed for $arch"
  say "built localhost/fte:$TAG-$arch in $(($(date +%s) - start)) s"
done

say "step 3/4: manifest list $MANIFEST"
buildah "${STORAGE[@]}" manifest rm "$MANIFEST" >/dev/null 2>&1 || true
buildah "${STORAGE[@]}" manifest create "$MANIFEST" >/dev/null
for arch in "${ARCHES[@]}"; do
  buildah "${STORAGE[@]}" manifest add --arch "$arch" --os linux "$MANIFEST" \
    "containers-storage:localhost/fte:$TAG-$arch" >/dev/null
done

say "step 4/4: push and export"
if [[ -n $PUSH ]]; then
  say "pushing $MANIFEST to docker://$PUSH/fte:$TAG"
  buildah "${STORAGE[@]}" manifest push --all --tls-verify=false "$MANIFEST" "docker://$PUSH/fte:$TAG" >&2 ||
    die "push to $PUSH failed (is a registry listening there?)"
fi
for spec in "${EXPORTS[@]}"; do
  arch=${spec%%=*}
  file=${spec#*=}
  [[ $arch != "$spec" && -n $file ]] || die "--export wants ARCH=FILE, got $spec"
  say "exporting localhost/fte:$TAG-$arch to $file (ctr -n k8s.io images import $file)"
  rm -f "$file"
  buildah "${STORAGE[@]}" push --quiet "localhost/fte:$TAG-$arch" "docker-archive:$file:localhost/fte:$TAG" >&2 ||
    die "export of $arch failed"
done

printf 'storage --root %s --runroot %s\n' "$CACHE/storage" "$CACHE/run"
printf 'manifest %s\n' "$MANIFEST"
for arch in "${ARCHES[@]}"; do
  # The manifest of an image in containers-storage lists its layers as uncompressed tars: the sum is the size.
  bytes=$(buildah "${STORAGE[@]}" inspect --type image --format '{{.Manifest}}' "localhost/fte:$TAG-$arch" |
    node -e 'let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>{process.stdout.write(String(JSON.parse(s).layers.reduce((sum,l)=>sum+l.size,0)))})')
  say "localhost/fte:$TAG-$arch: $((bytes / 1000000)) MB uncompressed"
  printf 'image %s %s %s\n' "$arch" "localhost/fte:$TAG-$arch" "$bytes"
done
