#!/usr/bin/env bash
# skaffold's custom build (skaffold.yaml): builds $IMAGE for $PLATFORMS with scripts/build-image.sh (buildah,
# no Docker daemon) and pushes it there when $PUSH_IMAGE=true; otherwise loads it into the local Docker
# daemon. The skaffold contract: https://skaffold.dev/docs/builders/builder-types/custom/
#   FTE_PUSH_TLS_VERIFY=false   push over plain HTTP / unverified TLS (a registry on the node's address)
set -euo pipefail
say() { printf 'skaffold-build: %s\n' "$*" >&2; }
: "${IMAGE:?skaffold sets IMAGE (run this through skaffold)}"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

arches=()
IFS=, read -r -a platforms <<<"${PLATFORMS:-linux/$(dpkg --print-architecture)}"
for platform in "${platforms[@]}"; do arches+=("${platform#linux/}"); done
arch_list=$(IFS=,; echo "${arches[*]}")

say "building $IMAGE for $arch_list"
out=$(bash "$REPO/scripts/build-image.sh" --tag skaffold --arch "$arch_list")
read -r -a storage <<<"$(sed -n 's/^storage //p' <<<"$out")"
manifest=$(sed -n 's/^manifest //p' <<<"$out")

if [[ ${PUSH_IMAGE:-false} == true ]]; then
  say "pushing $manifest to $IMAGE"
  buildah "${storage[@]}" manifest push --all --tls-verify="${FTE_PUSH_TLS_VERIFY:-true}" "$manifest" "docker://$IMAGE" >&2
else
  say "loading $manifest ($(dpkg --print-architecture)) into the Docker daemon as $IMAGE"
  buildah "${storage[@]}" push "$manifest-$(dpkg --print-architecture)" "docker-daemon:$IMAGE" >&2
fi
