import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from './config.js';
import { tokenSource } from './oauth/token-source.js';

/**
 * IMAP settings from the environment, shared by the cloud's inbox watcher (operator/watchers/imap.ts) and
 * Local's optional "sent copy" (executor/sent-copy.ts). Works with any standard IMAP server and with Gmail
 * app passwords (imap.gmail.com, 993, TLS). The password comes from `IMAP_PASSWORD` or, for a mounted
 * Kubernetes Secret, from the file named by `IMAP_PASSWORD_FILE`; it is never logged.
 */

/** IMAP settings missing or wrong: a configuration error (exit 78). */
export class ImapConfigError extends ConfigError {}

const booleanish = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off']))
  .transform((v) => v === '1' || v === 'true' || v === 'yes' || v === 'on');

const positiveInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const Env = z.object({
  IMAP_HOST: z.string().trim().min(1),
  IMAP_PORT: positiveInt(1, 65535).optional(),
  IMAP_SECURE: booleanish.optional(),
  IMAP_USER: z.string().trim().min(1),
  IMAP_PASSWORD: z.string().min(1).optional(),
  IMAP_PASSWORD_FILE: z.string().trim().min(1).optional(),
  IMAP_OAUTH_TOKEN_FILE: z.string().trim().min(1).optional(),
  IMAP_MAILBOX: z.string().trim().min(1).optional(),
  IMAP_SINCE_DAYS: positiveInt(0, 36_500).optional(),
  IMAP_POLL_SECONDS: positiveInt(1, 3600).optional(),
  IMAP_IDLE: booleanish.optional(),
  IMAP_MAX_MESSAGE_BYTES: positiveInt(1024, 2 ** 31).optional(),
  IMAP_SENT_MAILBOX: z.string().trim().min(1).optional(),
});

export type ImapConfig = {
  host: string;
  port: number;
  /** TLS from the first byte (993). When false, imapflow still upgrades with STARTTLS if the server offers it. */
  secure: boolean;
  user: string;
  /** Empty when `oauthTokenFile` is set. */
  password: string;
  /** `IMAP_OAUTH_TOKEN_FILE`: sign in with XOAUTH2/OAUTHBEARER using this token file (core/oauth) instead of a password. */
  oauthTokenFile?: string;
  /** The watched mailbox. Default `INBOX`. */
  mailbox: string;
  /**
   * Where a fresh mailbox (no saved state) starts: messages received in the last N days are taken in;
   * 0 means only messages that arrive after the watcher first starts. Default 7.
   */
  sinceDays: number;
  /** Polling fallback interval, and how often IDLE is renewed with a full check. Default 60 s. */
  pollMs: number;
  /** Use IMAP IDLE when the server offers it. Default true. */
  idle: boolean;
  /** Messages larger than this are not downloaded: a task is made from the headers and the structure. Default 50 MiB. */
  maxMessageBytes: number;
  /** Mailbox for sent copies (Local side); default: the one marked \Sent, else `Sent`. */
  sentMailbox?: string;
};

/** Whether IMAP is configured at all (the watcher starts only then). */
export function imapConfigured(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.IMAP_HOST?.trim());
}

function describe(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message.toLowerCase()}`)
    .join('; ');
}

/** Reads the IMAP settings; anything missing or wrong is an ImapConfigError naming the variable. */
export function loadImapConfig(
  env: NodeJS.ProcessEnv,
  readSecret: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): ImapConfig {
  const known = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in Env.shape && value !== undefined && value !== ''),
  );
  const parsed = Env.safeParse(known);
  if (!parsed.success) throw new ImapConfigError(`invalid IMAP configuration: ${describe(parsed.error)}`);
  const e = parsed.data;
  if (e.IMAP_OAUTH_TOKEN_FILE && (e.IMAP_PASSWORD || e.IMAP_PASSWORD_FILE)) {
    throw new ImapConfigError('set IMAP_OAUTH_TOKEN_FILE or IMAP_PASSWORD(_FILE), not both');
  }
  let password = e.IMAP_PASSWORD;
  if (password === undefined && e.IMAP_PASSWORD_FILE) {
    try {
      password = readSecret(e.IMAP_PASSWORD_FILE).replace(/\r?\n$/, '');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new ImapConfigError(`IMAP_PASSWORD_FILE ${e.IMAP_PASSWORD_FILE} cannot be read (${code})`);
    }
  }
  if (e.IMAP_OAUTH_TOKEN_FILE) password = '';
  else if (!password)
    throw new ImapConfigError(
      'set IMAP_PASSWORD or IMAP_PASSWORD_FILE (a mounted secret), or IMAP_OAUTH_TOKEN_FILE (`fte mail login`)',
    );
  // Google shows app passwords in groups of four ("abcd efgh ijkl mnop"); the spaces are not part of it.
  if (/(^|\.)(gmail|googlemail)\.com$/i.test(e.IMAP_HOST)) password = password.replace(/\s+/g, '');
  const secure = e.IMAP_SECURE ?? e.IMAP_PORT !== 143;
  return {
    host: e.IMAP_HOST,
    port: e.IMAP_PORT ?? (secure ? 993 : 143),
    secure,
    user: e.IMAP_USER,
    password,
    oauthTokenFile: e.IMAP_OAUTH_TOKEN_FILE,
    mailbox: e.IMAP_MAILBOX ?? 'INBOX',
    sinceDays: e.IMAP_SINCE_DAYS ?? 7,
    pollMs: (e.IMAP_POLL_SECONDS ?? 60) * 1000,
    idle: e.IMAP_IDLE ?? true,
    maxMessageBytes: e.IMAP_MAX_MESSAGE_BYTES ?? 50 * 1024 * 1024,
    sentMailbox: e.IMAP_SENT_MAILBOX,
  };
}

/** `user@host/mailbox`: names one watched mailbox in logs and state files (no password). */
export function imapAccountLabel(config: Pick<ImapConfig, 'user' | 'host' | 'mailbox'>): string {
  return `${config.user}@${config.host}/${config.mailbox}`;
}

/**
 * imapflow's `auth` for a config: the password, or a fresh access token from the token file (refreshed
 * when close to expiry; a revoked refresh token throws LoginRequired). imapflow picks XOAUTH2 or
 * OAUTHBEARER from the server's capabilities.
 */
export async function imapAuth(
  config: Pick<ImapConfig, 'user' | 'password' | 'oauthTokenFile'>,
  force = false,
): Promise<{ user: string; pass: string } | { user: string; accessToken: string }> {
  if (!config.oauthTokenFile) return { user: config.user, pass: config.password };
  return { user: config.user, accessToken: await tokenSource(config.oauthTokenFile).accessToken(force) };
}
