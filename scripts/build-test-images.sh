#!/usr/bin/env bash
# Builds the images the cluster tests run beside the fte image, with buildah and no image registry, for amd64:
#   localhost/fte-test/postgres:15               Debian bookworm's postgresql-15 (from mmdebstrap) with an
#                                                entrypoint that behaves like the official image's as far as
#                                                charts/fte relies on it (tests/images/postgres/)
#   localhost/fte-test/odoo-standin:<version>    NOT Odoo: the test Odoo server of tests/odoo/ (JSON-RPC,
#                                                JSON-2 from 19.0, /web/health, /web/version, the invoice
#                                                report; state in memory) compiled with tsc, on the fte base
#                                                image; it writes one attachment into the filestore on start
# Same storage and lock as scripts/build-image.sh ($FTE_TOOLS_CACHE/images, default ~/.cache/fte-tools/images).
# Cached: an image is rebuilt only when its recipe or its source files change (a label holds their hash);
# the Debian root filesystem of the postgres image is cached as a tar like the base's.
#
# Usage: scripts/build-test-images.sh [--odoo-version 18.0]
#        scripts/build-test-images.sh --compile-odoo DIR   only compile the test Odoo server into DIR (no root)
#        scripts/build-test-images.sh --help
# Progress goes to stderr; stdout gets, last, machine-readable lines:
#   storage --root DIR --runroot DIR
#   image postgres localhost/fte-test/postgres:15 BYTES            (BYTES: uncompressed size, all layers)
#   image odoo-standin localhost/fte-test/odoo-standin:18.0 BYTES
set -euo pipefail

say() { printf 'test-images: %s\n' "$*" >&2; }
die() {
  printf 'test-images: error: %s\n' "$*" >&2
  exit 1
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ODOO_VERSION=18.0
COMPILE_ONLY=
while [[ $# -gt 0 ]]; do
  case $1 in
  --odoo-version) ODOO_VERSION=${2:?--odoo-version needs a value} && shift 2 ;;
  --compile-odoo) COMPILE_ONLY=${2:?--compile-odoo needs a directory} && shift 2 ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *) die "unknown argument $1 (see the top of $0)" ;;
  esac
done
[[ $ODOO_VERSION =~ ^[0-9]+\.[0-9]+$ ]] || die "--odoo-version wants MAJOR.MINOR, got $ODOO_VERSION"

# The test Odoo server (tests/odoo/*.ts without the tests; only node: imports) as plain ES modules.
ODOO_SOURCES=(domain pdf state server main)
ODOO_FILES=()
for f in "${ODOO_SOURCES[@]}"; do ODOO_FILES+=("$REPO/tests/odoo/$f.ts"); done
compile_odoo_server() {
  local out=$1 tsc="$REPO/node_modules/typescript/bin/tsc"
  [[ -f $tsc ]] || die "odoo: $tsc missing: run npm ci first"
  rm -rf "$out" && mkdir -p "$out"
  node "$tsc" --outDir "$out" --rootDir "$REPO/tests/odoo" --target ES2022 --module NodeNext \
    --moduleResolution NodeNext --strict --noUncheckedIndexedAccess --skipLibCheck --types node \
    "${ODOO_FILES[@]}" >&2 || die "odoo: tsc failed on tests/odoo"
  printf '{"type": "module", "private": true}\n' >"$out/package.json"
  for f in "${ODOO_SOURCES[@]}"; do [[ -s $out/$f.js ]] || die "odoo: tsc wrote no $f.js"; done
}
if [[ -n $COMPILE_ONLY ]]; then
  compile_odoo_server "$COMPILE_ONLY"
  say "odoo: compiled the test Odoo server into $COMPILE_ONLY (node $COMPILE_ONLY/main.js)"
  exit 0
fi

[[ $(id -u) == 0 ]] || die "run as root (mmdebstrap and buildah need it here)"
for tool in mmdebstrap buildah node sha256sum flock; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/test-setup.sh (apt-get install -y mmdebstrap buildah)"
done

ARCH=amd64
SUITE=bookworm
PG_MAJOR=15
PG_RECIPE=1 # bump when the mmdebstrap options below change, so the cached tar is rebuilt
CACHE=${FTE_TOOLS_CACHE:-$HOME/.cache/fte-tools}/images
STORAGE=(--root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver overlay)
mkdir -p "$CACHE"
exec 8>"$CACHE/.build.lock"
say "waiting for the image build lock ($CACHE/.build.lock)"
flock 8

image_label() {
  buildah "${STORAGE[@]}" inspect --type image --format '{{index .ImageAnnotations "org.opencontainers.image.revision"}}{{index .OCIv1.Config.Labels "fte.test-image.source"}}' "$1" 2>/dev/null || true
}
# Hash of a recipe string plus the files it copies: the image is current when its label says so.
source_hash() {
  local recipe=$1
  shift
  { printf '%s\n' "$recipe" && cat "$@"; } | sha256sum | cut -c1-16
}
image_bytes() {
  buildah "${STORAGE[@]}" inspect --type image --format '{{.Manifest}}' "$1" |
    node -e 'let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>{process.stdout.write(String(JSON.parse(s).layers.reduce((sum,l)=>sum+l.size,0)))})'
}

# ------------------------------------------------------------------ postgres
PG_IMAGE=localhost/fte-test/postgres:$PG_MAJOR
PG_FILES=("$REPO/tests/images/postgres/docker-entrypoint.sh")
PG_HASH=$(source_hash "postgres $SUITE.$PG_RECIPE $ARCH" "${PG_FILES[@]}")

# The official image's postgres user is UID/GID 999; it must exist before postgresql-common's postinst
# runs adduser (which then keeps it). The postinst's "main" cluster is removed: the entrypoint runs initdb.
postgres_tar() {
  local tar="$CACHE/postgres-$SUITE.$PG_RECIPE-$ARCH.tar"
  if [[ -s $tar ]]; then
    say "postgres: Debian $SUITE with postgresql-$PG_MAJOR cached ($tar)"
  else
    say "postgres: mmdebstrap $SUITE minbase + postgresql-$PG_MAJOR (~2-3 min)"
    mmdebstrap --variant=minbase --arch="$ARCH" --format=tar \
      --include="postgresql-$PG_MAJOR" \
      --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --essential-hook='echo "postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/sh" >>"$1"/etc/passwd' \
      --essential-hook='echo "postgres:x:999:" >>"$1"/etc/group' \
      --essential-hook='echo "postgres:*:19000:0:99999:7:::" >>"$1"/etc/shadow' \
      --essential-hook='echo "postgres:*::" >>"$1"/etc/gshadow' \
      --customize-hook="rm -rf \"\$1\"/etc/postgresql/$PG_MAJOR/main \"\$1\"/var/lib/postgresql/$PG_MAJOR" \
      --customize-hook='mkdir -p "$1"/var/lib/postgresql/data "$1"/var/run/postgresql' \
      --customize-hook='chown 999:999 "$1"/var/lib/postgresql "$1"/var/lib/postgresql/data "$1"/var/run/postgresql' \
      --customize-hook='chmod 0700 "$1"/var/lib/postgresql/data && chmod 2775 "$1"/var/run/postgresql' \
      --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
      "$SUITE" "$tar.partial" >&2 || die "mmdebstrap of postgresql-$PG_MAJOR failed"
    mv "$tar.partial" "$tar"
  fi
  printf '%s\n' "$tar"
}

build_postgres() {
  if [[ $(image_label "$PG_IMAGE") == "$PG_HASH" ]]; then
    say "postgres: $PG_IMAGE cached (source $PG_HASH)"
    return
  fi
  local start tar ctr
  start=$(date +%s)
  tar=$(postgres_tar)
  say "postgres: importing $PG_IMAGE"
  ctr=$(buildah "${STORAGE[@]}" from --quiet --arch "$ARCH" scratch)
  buildah "${STORAGE[@]}" add "$ctr" "$tar" / >/dev/null
  buildah "${STORAGE[@]}" add --chmod 0755 "$ctr" "$REPO/tests/images/postgres/docker-entrypoint.sh" \
    /usr/local/bin/docker-entrypoint.sh >/dev/null
  buildah "${STORAGE[@]}" config --os linux --arch "$ARCH" \
    --env "PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --env PGDATA=/var/lib/postgresql/data \
    --env LANG=C.UTF-8 \
    --entrypoint '["docker-entrypoint.sh"]' --cmd '["postgres"]' \
    --port 5432/tcp --stop-signal SIGINT --user 999:999 \
    --label "fte.test-image.source=$PG_HASH" \
    --label "org.opencontainers.image.description=fte test image: Debian $SUITE postgresql-$PG_MAJOR" \
    "$ctr"
  buildah "${STORAGE[@]}" commit --quiet --rm "$ctr" "$PG_IMAGE" >/dev/null
  # initdb, the start, the database of POSTGRES_DB and pg_isready, in the image itself; as root, since
  # buildah's tmpfs over /run hides /var/run/postgresql (the entrypoint recreates it and drops to 999).
  ctr=$(buildah "${STORAGE[@]}" from --quiet --arch "$ARCH" "$PG_IMAGE")
  local checked
  checked=$(buildah "${STORAGE[@]}" run --user 0:0 \
    --env POSTGRES_USER=odoo --env POSTGRES_PASSWORD=check --env PGPASSWORD=check --env POSTGRES_DB=checkdb \
    --env PGDATA=/tmp/pgdata "$ctr" -- sh -c \
    'docker-entrypoint.sh postgres -c listen_addresses=127.0.0.1 >/tmp/pg.log 2>&1 & i=0; until pg_isready -q -h 127.0.0.1 -U odoo -d postgres; do i=$((i+1)); [ $i -lt 60 ] || { cat /tmp/pg.log; exit 1; }; sleep 0.5; done; psql -X -At -h 127.0.0.1 -U odoo -d checkdb -c "select current_user, version()"; pg_dump --version; setpriv --reuid=999 --regid=999 --clear-groups pg_ctl -D /tmp/pgdata -w -m fast stop >/dev/null' 2>&1) ||
    {
      buildah "${STORAGE[@]}" rm "$ctr" >/dev/null || true
      # Not left behind as a cache hit for the next run.
      buildah "${STORAGE[@]}" rmi "$PG_IMAGE" >/dev/null || true
      die "postgres: $PG_IMAGE does not start: $checked"
    }
  buildah "${STORAGE[@]}" rm "$ctr" >/dev/null
  say "postgres: checked: $(tr '\n' ' ' <<<"$checked")"
  say "postgres: built $PG_IMAGE in $(($(date +%s) - start)) s"
}

# ------------------------------------------------------------------ odoo stand-in (tests/odoo)
ODOO_IMAGE=localhost/fte-test/odoo-standin:$ODOO_VERSION

build_odoo_standin() {
  local base
  base=$(bash "$REPO/scripts/build-base-image.sh" "$ARCH" | awk -v a="$ARCH" '$1 == a { print $2 }')
  [[ -n $base ]] || die "odoo-standin: scripts/build-base-image.sh printed no $ARCH base"
  local hash
  hash=$(source_hash "odoo-test-server.2 $ODOO_VERSION $base" "${ODOO_FILES[@]}")
  if [[ $(image_label "$ODOO_IMAGE") == "$hash" ]]; then
    say "odoo-standin: $ODOO_IMAGE cached (source $hash)"
    return
  fi
  local start ctr js
  start=$(date +%s)
  js=$(mktemp -d)
  compile_odoo_server "$js"
  say "odoo-standin: building $ODOO_IMAGE from $base"
  ctr=$(buildah "${STORAGE[@]}" from --quiet --arch "$ARCH" "$base")
  buildah "${STORAGE[@]}" add --chmod 0644 "$ctr" "$js" /opt/odoo-test-server >/dev/null
  rm -rf "$js"
  # Odoo's data_dir and config dir, owned by the official image's odoo user (UID/GID 101).
  buildah "${STORAGE[@]}" run "$ctr" -- sh -c \
    'mkdir -p /var/lib/odoo /etc/odoo && chown 101:101 /var/lib/odoo && chmod 0755 /opt/odoo-test-server'
  buildah "${STORAGE[@]}" config --os linux --arch "$ARCH" \
    --env "ODOO_VERSION=$ODOO_VERSION" --env ODOO_RC=/etc/odoo/odoo.conf \
    --entrypoint '["node", "/opt/odoo-test-server/main.js"]' --cmd '[]' \
    --port 8069/tcp --user 101:101 \
    --label "fte.test-image.source=$hash" \
    --label "org.opencontainers.image.description=fte test image: the test Odoo server of tests/odoo, speaking Odoo $ODOO_VERSION's external API (not Odoo)" \
    "$ctr"
  buildah "${STORAGE[@]}" commit --quiet --rm "$ctr" "$ODOO_IMAGE" >/dev/null
  # It starts and answers, in the image itself.
  ctr=$(buildah "${STORAGE[@]}" from --quiet --arch "$ARCH" "$ODOO_IMAGE")
  local checked
  checked=$(buildah "${STORAGE[@]}" run --user 101:101 --env ODOO_HTTP_PORT=18069 "$ctr" -- sh -c \
    'node /opt/odoo-test-server/main.js >/tmp/odoo.log 2>&1 & i=0; until node -e "fetch(\"http://127.0.0.1:18069/web/version\").then(r=>r.text()).then(t=>{console.log(t)}).catch(()=>process.exit(1))" 2>/dev/null; do i=$((i+1)); [ $i -lt 50 ] || { cat /tmp/odoo.log; exit 1; }; sleep 0.2; done' 2>&1) ||
    {
      buildah "${STORAGE[@]}" rm "$ctr" >/dev/null || true
      buildah "${STORAGE[@]}" rmi "$ODOO_IMAGE" >/dev/null || true
      die "odoo-standin: $ODOO_IMAGE does not start: $checked"
    }
  buildah "${STORAGE[@]}" rm "$ctr" >/dev/null
  say "odoo-standin: checked: $checked"
  say "odoo-standin: built $ODOO_IMAGE in $(($(date +%s) - start)) s"
}

build_postgres
build_odoo_standin

printf 'storage --root %s --runroot %s\n' "$CACHE/storage" "$CACHE/run"
for pair in "postgres $PG_IMAGE" "odoo-standin $ODOO_IMAGE"; do
  read -r what image <<<"$pair"
  bytes=$(image_bytes "$image")
  say "$image: $((bytes / 1000000)) MB uncompressed"
  printf 'image %s %s %s\n' "$what" "$image" "$bytes"
done
