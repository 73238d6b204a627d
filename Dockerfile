# The fte image: one CLI (`fte operator`, `fte sync` for the git-sync sidecar, `fte executor`, ...), amd64 and arm64.
# scripts/build-image.sh builds it from local bases (scripts/build-base-image.sh); with Docker:
#   docker buildx build --platform linux/amd64,linux/arm64 -t fte .
# Runs as UID 10001 with a read-only root filesystem: HOME=/tmp, so mount a writable volume (emptyDir) on /tmp
# and on the vault. See docs/image.md.
ARG BUILD_IMAGE=docker.io/library/node:20-bookworm-slim
ARG BASE_IMAGE=docker.io/library/node:20-bookworm-slim

# Stage 1 runs on the build machine's own architecture (no emulation): the production dependencies are pure
# JavaScript (no native addons), so the node_modules it leaves serve every target architecture.
FROM --platform=$BUILDPLATFORM ${BUILD_IMAGE} AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /app
COPY package.json package-lock.json ./
# Behind a TLS-inspecting proxy, pass its CA bundle as a build secret: --secret id=npm_ca,src=<bundle>.
RUN --mount=type=secret,id=npm_ca \
    if [ -f /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
    && npm ci --loglevel=error
COPY tsconfig.json ./
COPY bin bin
COPY cli cli
COPY core core
COPY operator operator
COPY executor executor
COPY dashboard dashboard
# The status page (dashboard/) is built into dist/dashboard/ with the dev dependencies, before the prune.
# Source maps, type declarations, TypeScript sources and docs of the dependencies are never loaded at run
# time, nor are the `*.bare` prebuilds of bare-fs/bare-url (addons for the Bare runtime, which tar-fs loads
# only there; Node.js uses its own fs): dropping them takes node_modules from 148 MB to about 52 MB.
RUN npx tsc -p tsconfig.json \
  && npx tsc -p dashboard/tsconfig.json && npx vite build --config dashboard/vite.config.ts \
  && npm prune --omit=dev --loglevel=error \
  && find dist node_modules -type f \( -name '*.map' -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' \
       -o -name '*.md' -o -name '*.bare' \) -delete

# Stage 2: Node.js, git and an ssh client; nothing else is needed at run time.
FROM ${BASE_IMAGE}
# A base that already has git, ssh and CA certificates (the local one does) needs no network here.
RUN if ! command -v git >/dev/null || ! command -v ssh >/dev/null || [ ! -e /etc/ssl/certs/ca-certificates.crt ]; then \
      apt-get update && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
  # ssh refuses to run for a UID without a passwd entry; HOME is /tmp so the root filesystem can stay read-only.
  && echo 'fte:x:10001:10001:fte:/tmp:/usr/sbin/nologin' >> /etc/passwd \
  && echo 'fte:x:10001:' >> /etc/group
COPY --from=build /app/package.json /app/package.json
COPY --from=build /app/node_modules /app/node_modules
COPY --from=build /app/bin /app/bin
COPY --from=build /app/dist /app/dist
COPY crds /app/crds
ENV NODE_ENV=production HOME=/tmp PATH=/app/bin:$PATH
LABEL org.opencontainers.image.title=fte \
      org.opencontainers.image.description="fte: operator, git-sync sidecar and executor (one CLI)" 
WORKDIR /tmp
USER 10001:10001
# node is PID 1: `fte operator`, `fte sync` and `fte executor` install their own SIGTERM handlers (finish the
# step in flight, push, exit 0), so no init process is needed for signals.
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
