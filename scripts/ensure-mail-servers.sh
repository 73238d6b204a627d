#!/usr/bin/env bash
# ensure-mail-servers.sh — install the real mail servers the mail tests start on loopback
# (tests/harness/mail.ts): Dovecot (IMAP + LMTP) and Postfix.
#
# Idempotent: does nothing when the binaries are already there; runs `apt-get update` only when the
# packages are not installable from the current lists. Never installs exim4 or opensmtpd (they conflict
# with postfix). No service is enabled or started: the harness runs private instances on free ports.
#
# Needs root (or passwordless sudo) when something is missing. Exit status is non-zero, with an
# "ensure-mail-servers: ERROR" line, when anything fails.
set -Eeuo pipefail

log() { printf 'ensure-mail-servers: %s\n' "$*" >&2; }
die() { printf 'ensure-mail-servers: ERROR: %s\n' "$*" >&2; exit 1; }

PACKAGES=(dovecot-imapd dovecot-lmtpd postfix)

# (Output is captured before matching: `cmd | grep -q` under pipefail fails when grep exits early.)
is_installed() {
  local status
  status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
  [[ "$status" == *"install ok installed"* ]]
}

have_all() {
  command -v dovecot >/dev/null 2>&1 || [[ -x /usr/sbin/dovecot ]] || return 1
  command -v postfix >/dev/null 2>&1 || [[ -x /usr/sbin/postfix ]] || return 1
  local p
  for p in "${PACKAGES[@]}"; do
    is_installed "$p" || return 1
  done
}

if have_all; then
  log "dovecot and postfix already installed"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${PACKAGES[*]} with this system's package manager"

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null \
    || die "need root to install ${PACKAGES[*]} (run this script as root or with passwordless sudo)"
  SUDO=(sudo -n)
fi

for bad in exim4-daemon-light exim4-daemon-heavy opensmtpd; do
  if is_installed "$bad"; then
    die "$bad is installed and conflicts with postfix; remove it first"
  fi
done

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

installable() {
  local p policy
  for p in "${PACKAGES[@]}"; do
    policy="$(apt-cache policy "$p" 2>/dev/null || true)"
    [[ "$policy" =~ Candidate:\ [^\(] ]] || return 1
  done
}

if ! installable; then
  log "package lists lack ${PACKAGES[*]}: apt-get update"
  "${SUDO[@]}" apt-get update -q || die "apt-get update failed"
fi
installable || die "no installation candidate for one of ${PACKAGES[*]} (check apt sources)"

# Postfix asks debconf questions; answer them so the install never blocks.
if command -v debconf-set-selections >/dev/null 2>&1; then
  printf '%s\n' \
    "postfix postfix/main_mailer_type select No configuration" \
    "postfix postfix/mailname string mx.example.test" \
    | "${SUDO[@]}" debconf-set-selections || true
fi

log "installing ${PACKAGES[*]}"
"${SUDO[@]}" apt-get install "${APT_OPTS[@]}" --no-install-recommends "${PACKAGES[@]}" \
  || die "apt-get install ${PACKAGES[*]} failed"

have_all || die "installed, but dovecot or postfix is still missing from PATH"
log "installed: $(dovecot --version 2>/dev/null | head -1 || echo dovecot), postfix $(postconf -d -h mail_version 2>/dev/null || echo '?')"
