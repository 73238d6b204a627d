#!/bin/sh
# Entrypoint of the test image fte-test/postgres:15 (scripts/build-test-images.sh): Debian's postgresql-15
# behaving like the official `postgres` image as far as charts/fte relies on it:
#   - env POSTGRES_USER (default postgres) becomes the bootstrap superuser, with POSTGRES_PASSWORD;
#   - POSTGRES_DB (default: POSTGRES_USER) is created when it is not "postgres";
#   - PGDATA (default /var/lib/postgresql/data) is initialised on the first start (empty or missing dir);
#   - local (socket) connections are trusted, TCP from anywhere needs the password (scram-sha-256);
#   - listens on every address, port 5432; the socket lives in /var/run/postgresql;
#   - started as root it drops to the postgres user (UID 999, as in the official Debian-based image).
# Not supported: /docker-entrypoint-initdb.d, POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, arbitrary
# UIDs without a passwd entry (the official image's nss_wrapper).
set -eu

say() { printf 'entrypoint: %s\n' "$*" >&2; }

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi

if [ "$1" != postgres ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "${PGDATA:-/var/lib/postgresql/data}" /var/run/postgresql
  chown postgres:postgres "${PGDATA:-/var/lib/postgresql/data}" /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    say "error: the database is uninitialised and POSTGRES_PASSWORD is not set"
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  say "initdb in $PGDATA (superuser $user)"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >&2
  rm -f "$pwfile"
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >&2
    say "creating database $db"
    psql -X -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres \
      -c "CREATE DATABASE \"$db\"" >&2
    pg_ctl -D "$PGDATA" -w -m fast stop >&2
  fi
  say "initialised"
fi

exec "$@"
