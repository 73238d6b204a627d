import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * The executor's env file (DESIGN.md §5: "local holds send credentials and the approval key, in a local
 * env file outside the vault"): `$XDG_CONFIG_HOME/fte/executor.env`, else `~/.config/fte/executor.env`,
 * mode 0600 in a 0700 folder. The systemd unit reads it with `EnvironmentFile=`, the launchd agent with
 * `set -a; . <file>` in /bin/sh; the doctor reads it like systemd does. Values written here are double-quoted
 * with `\ " $ \`` escaped, which both read the same way.
 */

/** `$XDG_CONFIG_HOME` when absolute, else `~/.config`. */
export function configHome(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  return xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.config');
}

/** The default env file: `<config home>/fte/executor.env`. */
export function defaultEnvFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configHome(env), 'fte', 'executor.env');
}

export function envFilePath(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option ? resolve(option) : defaultEnvFilePath(env);
}

/** The settings the template lists, grouped, each with one line of help. */
export const ENV_SECTIONS: ReadonlyArray<{ title: string; keys: ReadonlyArray<[string, string]> }> = [
  {
    title: 'Sending email (SMTP_HOST and SMTP_FROM to send; SMTP_USER with SMTP_PASSWORD to log in)',
    keys: [
      ['SMTP_HOST', 'smtp.example.com'],
      ['SMTP_PORT', '587 (465 means TLS from the start)'],
      ['SMTP_SECURE', 'true for TLS from the start (default: true on port 465)'],
      ['SMTP_USER', 'the login'],
      ['SMTP_PASSWORD', 'the password or app password'],
      ['SMTP_FROM', '"Your Name <you@example.com>"'],
    ],
  },
  {
    title: 'The approval key (default ~/.config/fte/approval.key; never inside the vault)',
    keys: [['FTE_APPROVAL_KEY_FILE', 'path of the key file']],
  },
  {
    title: "This laptop's own limits (the handbook in the vault may only lower them)",
    keys: [
      ['FTE_EMAIL_RATE_PER_HOUR', '10'],
      ['DRY_RUN', 'true to log emails instead of sending them'],
      ['FTE_ALLOWED_ACTIONS', 'send_email'],
      ['FTE_OWNER', 'your name, for the audit log'],
      ['FTE_STATE_DIR', 'where the ledger lives (default ~/.local/state/fte)'],
    ],
  },
  {
    title: 'A copy of each sent email in the Sent folder (FTE_SENT_COPY=1 and the IMAP_* settings)',
    keys: [
      ['FTE_SENT_COPY', '1'],
      ['IMAP_HOST', 'imap.example.com'],
      ['IMAP_PORT', '993'],
      ['IMAP_USER', 'the login'],
      ['IMAP_PASSWORD', 'the password or app password'],
    ],
  },
  {
    title: 'The status page (loopback by default; another bind needs a password hash or a token)',
    keys: [
      ['FTE_UI_BIND', '127.0.0.1'],
      ['FTE_UI_PORT', '7420'],
      ['FTE_UI_PASSWORD_HASH', 'a bcrypt hash from fte ui hash-password'],
      ['FTE_UI_TOKEN', 'at least 32 characters'],
      ['FTE_LOG_LEVEL', 'info'],
    ],
  },
];

export const ENV_KEYS: readonly string[] = ENV_SECTIONS.flatMap((s) => s.keys.map(([k]) => k));

/** A value as one env-file word both systemd and /bin/sh read back unchanged; undefined when impossible. */
export function envValueQuote(value: string): string | undefined {
  if (/[\u0000-\u001f\u007f]/.test(value)) return undefined;
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `"${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

/**
 * The commented template of a new env file. Every key is commented out (an empty `FTE_UI_PORT=` would be
 * a setting, not an unset one) except those in `values` (from `--from-env`), written quoted. Returns the
 * text and the keys that could not be written (a value with a line break).
 */
export function renderEnvTemplate(values: Record<string, string> = {}): { text: string; skipped: string[] } {
  const skipped: string[] = [];
  const lines = [
    '# fte executor settings, read by the fte-executor service (fte executor install).',
    '# Keep this file mode 0600 and outside the vault: it holds the send credentials.',
    '# One KEY=value per line; remove the leading # to set one. Put a value with spaces or other special',
    '# characters in double quotes, with a backslash before any \\ " $ or ` inside them.',
    '# After a change: systemctl --user restart fte-executor.service (Linux), or',
    '# launchctl kickstart -k gui/$(id -u)/dev.fte.executor (macOS). fte doctor checks the settings.',
  ];
  for (const section of ENV_SECTIONS) {
    lines.push('', `# ${section.title}`);
    for (const [key, hint] of section.keys) {
      const value = values[key];
      const quoted = value === undefined || value === '' ? undefined : envValueQuote(value);
      if (value !== undefined && value !== '' && quoted === undefined) skipped.push(key);
      // The hint on its own line: systemd would read a trailing `# …` as part of the value.
      lines.push(`#   ${hint}`, quoted === undefined ? `#${key}=` : `${key}=${quoted}`);
    }
  }
  return { text: `${lines.join('\n')}\n`, skipped };
}

/**
 * Reads an env file the way systemd's `EnvironmentFile=` does, for the lines this template writes:
 * `#`/`;` comments, `KEY=value`, an optional `export `, double quotes (backslash escapes `\ " $ \``),
 * single quotes (literal), unquoted values trimmed. `bad` lists line numbers that are not settings.
 */
export function parseEnvFile(text: string): { values: Record<string, string>; bad: number[] } {
  const values: Record<string, string> = {};
  const bad: number[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) {
      bad.push(index + 1);
      return;
    }
    const key = match[1] as string;
    const rest = match[2] as string;
    const value = unquote(rest);
    if (value === undefined) bad.push(index + 1);
    else values[key] = value;
  });
  return { values, bad };
}

function unquote(rest: string): string | undefined {
  if (rest.startsWith("'")) {
    const end = rest.indexOf("'", 1);
    return end === -1 ? undefined : rest.slice(1, end);
  }
  let out = '';
  const quoted = rest.startsWith('"');
  for (let i = quoted ? 1 : 0; i < rest.length; i++) {
    const c = rest[i] as string;
    if (c === '\\' && i + 1 < rest.length) {
      const next = rest[++i] as string;
      out += quoted && !'\\"$`'.includes(next) ? `\\${next}` : next;
    } else if (quoted && c === '"') {
      return out;
    } else {
      out += c;
    }
  }
  return quoted ? undefined : out.trimEnd();
}
