import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { parseAddress } from '../core/address.js';
import { ConfigError, parseEnv } from '../core/config.js';
import { isErrno } from '../core/fsutil.js';
import { HANDBOOK_FILE } from '../core/layout.js';
import type { OdooSettings } from '../core/odoo/settings.js';
import { ACTIONS } from '../core/schemas.js';
import { VaultFiles } from '../core/vault/safe-fs.js';
import { loadLaptopOdooSettings } from './odoo-config.js';

/**
 * The executor's configuration, validated by zod. Everything that limits what the laptop does (the hourly
 * rates, DRY_RUN, the allowed actions) is the laptop's own: its environment, else an optional config file
 * outside the vault (`FTE_EXECUTOR_CONFIG`, default `$XDG_CONFIG_HOME/fte/executor.json`), else the
 * defaults. `Company_Handbook.md` is in the vault, which the cloud writes too: it may only tighten a
 * limit (effective rate = min(local, handbook)), never loosen one.
 */

const booleanish = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', '']))
  .transform((v) => v === '1' || v === 'true' || v === 'yes' || v === 'on');

const Env = z.object({
  SMTP_HOST: z.string().trim().min(1).optional(),
  SMTP_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  SMTP_SECURE: booleanish.optional(),
  SMTP_USER: z.string().min(1).optional(),
  SMTP_PASSWORD: z.string().min(1).optional(),
  /** A token file from `fte mail login` (core/oauth): SMTP signs in with XOAUTH2 instead of a password. */
  SMTP_OAUTH_TOKEN_FILE: z.string().trim().min(1).optional(),
  SMTP_FROM: z
    .string()
    .trim()
    .refine((v) => parseAddress(v) !== undefined, {
      message: 'must be an address like owner@example.com or "Name <owner@example.com>"',
    })
    .optional(),
  FTE_EMAIL_RATE_PER_HOUR: z.coerce.number().int().min(0).optional(),
  /** register_payment side effects per hour (default 3). */
  FTE_PAYMENTS_PER_HOUR: z.coerce.number().int().min(0).optional(),
  /** The largest amount one register_payment may pay (default 1000, in the bill's currency). */
  FTE_PAYMENT_CEILING: z.coerce.number().min(0).optional(),
  DRY_RUN: booleanish.optional(),
  FTE_OWNER: z.string().trim().min(1).optional(),
  /** Comma-separated; set but empty (`,`) allows nothing. */
  FTE_ALLOWED_ACTIONS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
    )
    .refine((listed) => listed.every((a) => (ACTIONS as readonly string[]).includes(a)), {
      message: `must be actions from ${ACTIONS.join(', ')}, separated by commas`,
    })
    .optional(),
});

/** `executor.json`: the same limits as the environment, for owners who prefer a file. Unknown keys are refused. */
const LocalFile = z.strictObject({
  dry_run: z.boolean().optional(),
  emails_per_hour: z.number().int().min(0).optional(),
  /** Per action: side effects per hour (send_email here is the same as emails_per_hour). */
  rate_per_hour: z.partialRecord(z.enum(ACTIONS), z.number().int().min(0)).optional(),
  /** Actions this machine may carry out; default: every action it has an executor for. */
  allowed_actions: z.array(z.enum(ACTIONS)).optional(),
  /** The largest amount one register_payment may pay (FTE_PAYMENT_CEILING wins when set). */
  payment_ceiling: z.number().min(0).optional(),
  owner: z.string().trim().min(1).optional(),
});
type LocalFile = z.infer<typeof LocalFile>;

/** `FTE_EXECUTOR_CONFIG`, else `$XDG_CONFIG_HOME/fte/executor.json`, else `~/.config/fte/executor.json`. */
export function localConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FTE_EXECUTOR_CONFIG && env.FTE_EXECUTOR_CONFIG.trim() !== '')
    return resolve(env.FTE_EXECUTOR_CONFIG);
  const config =
    env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(config, 'fte', 'executor.json');
}

async function readLocalFile(path: string): Promise<LocalFile> {
  let text: string;
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      if (!(await handle.stat()).isFile()) throw new ConfigError(`${path} is not a regular file`);
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return {};
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = LocalFile.safeParse(json);
  if (!parsed.success)
    throw new ConfigError(`invalid executor configuration in ${path}: ${describe(parsed.error)}`);
  return parsed.data;
}

export type SmtpConfig = {
  host: string;
  port: number;
  secure: boolean;
  auth?: { user: string; pass: string } | { user: string; oauthTokenFile: string };
  from: string;
};

export type ExecutorConfig = {
  /** Undefined when SMTP_HOST is not set: emails wait in `Approved/` (DRY_RUN still logs them). */
  smtp?: SmtpConfig;
  /** The From address, also for stable Message-IDs in DRY_RUN. */
  from: string;
  dryRun: boolean;
  /** min(FTE_EMAIL_RATE_PER_HOUR or executor.json or 10, the handbook's limit if it states one). */
  emailsPerHour: number;
  owner: string;
  /** Other actions' hourly limits (same rule); an action not listed gets DEFAULT_RATE_PER_HOUR. */
  ratesPerHour?: Partial<Record<string, number>>;
  /** Actions this machine may carry out; undefined: every action it has an executor for. */
  allowedActions?: string[];
  /** Where each limit came from, for the start-up log line. */
  limitSources?: Record<string, string>;
  /** The laptop's Odoo (the posting key): undefined when ODOO_URL is not set; post_invoice and register_payment wait. */
  odoo?: OdooSettings;
  /** The largest amount one register_payment may pay; default DEFAULT_PAYMENT_CEILING. */
  paymentCeiling?: number;
};

export const DEFAULT_PAYMENTS_PER_HOUR = 3;
export const DEFAULT_PAYMENT_CEILING = 1000;

export const DEFAULT_RATE_PER_HOUR = 10;

/** The hourly limit of an action under a config. */
export function ratePerHour(config: ExecutorConfig, action: string): number {
  if (action === 'send_email') return config.emailsPerHour;
  return (
    config.ratesPerHour?.[action] ??
    (action === 'register_payment' ? DEFAULT_PAYMENTS_PER_HOUR : DEFAULT_RATE_PER_HOUR)
  );
}

export const DEFAULT_EMAILS_PER_HOUR = 10;

/** "At most 10 emails per hour" in Company_Handbook.md: may only lower the laptop's own limit. */
export function rateFromHandbook(text: string): number | undefined {
  const match = /at most\s+(\d+)\s+e-?mails?\s+(?:per|an|each|every)\s+hour/i.exec(text);
  return match ? Number(match[1]) : undefined;
}

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
}

/** "At most 2 payments per hour" in Company_Handbook.md: may only lower the laptop's own payment limit. */
export function paymentRateFromHandbook(text: string): number | undefined {
  const match = /at most\s+(\d+)\s+payments?\s+(?:per|an|each|every)\s+hour/i.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** The handbook's text, read through VaultFiles (never through a link); undefined when absent or unsafe. */
async function handbookText(vaultRoot: string): Promise<string | undefined> {
  const read = await new VaultFiles(vaultRoot).readText(HANDBOOK_FILE, 1024 * 1024);
  return read.kind === 'ok' ? read.text : undefined;
}

/** The handbook's email rate; undefined when absent or unsafe. */
export async function handbookRate(vaultRoot: string): Promise<number | undefined> {
  const text = await handbookText(vaultRoot);
  return text === undefined ? undefined : rateFromHandbook(text);
}

/**
 * Reads the config; a value that is set but wrong is a ConfigError (exit 78) naming the variable. An
 * empty value (`SMTP_HOST=` in an env file) means unset.
 */
export async function loadExecutorConfig(
  env: NodeJS.ProcessEnv,
  vaultRoot?: string,
): Promise<ExecutorConfig> {
  const e = parseEnv(Env, env, { secret: ['SMTP_PASSWORD'] });
  if (e.SMTP_OAUTH_TOKEN_FILE) {
    if (e.SMTP_PASSWORD) throw new ConfigError('set SMTP_OAUTH_TOKEN_FILE or SMTP_PASSWORD, not both');
    if (!e.SMTP_USER) throw new ConfigError('SMTP_OAUTH_TOKEN_FILE needs SMTP_USER (the mailbox address)');
  } else if ((e.SMTP_USER === undefined) !== (e.SMTP_PASSWORD === undefined)) {
    throw new ConfigError('set both SMTP_USER and SMTP_PASSWORD, or neither');
  }
  if (e.SMTP_HOST && !e.SMTP_FROM) throw new ConfigError('SMTP_HOST is set but SMTP_FROM is not');
  const secure = e.SMTP_SECURE ?? e.SMTP_PORT === 465;
  const from = e.SMTP_FROM ?? 'fte@localhost.invalid';
  const file = await readLocalFile(localConfigPath(env));
  const sources: Record<string, string> = {};
  let emailsPerHour: number;
  if (e.FTE_EMAIL_RATE_PER_HOUR !== undefined) {
    emailsPerHour = e.FTE_EMAIL_RATE_PER_HOUR;
    sources.send_email = 'FTE_EMAIL_RATE_PER_HOUR';
  } else if (file.emails_per_hour !== undefined || file.rate_per_hour?.send_email !== undefined) {
    emailsPerHour = Math.min(
      file.emails_per_hour ?? Number.POSITIVE_INFINITY,
      file.rate_per_hour?.send_email ?? Number.POSITIVE_INFINITY,
    );
    sources.send_email = localConfigPath(env);
  } else {
    emailsPerHour = DEFAULT_EMAILS_PER_HOUR;
    sources.send_email = 'default';
  }
  const handbookDoc = vaultRoot ? await handbookText(vaultRoot) : undefined;
  const handbook = handbookDoc === undefined ? undefined : rateFromHandbook(handbookDoc);
  if (handbook !== undefined && handbook < emailsPerHour) {
    emailsPerHour = handbook;
    sources.send_email = `${HANDBOOK_FILE} (stricter than the local setting)`;
  }
  const allowedActions: string[] | undefined = e.FTE_ALLOWED_ACTIONS ?? file.allowed_actions;
  const ratesPerHour: Partial<Record<string, number>> = { ...file.rate_per_hour };
  delete ratesPerHour.send_email;
  if (e.FTE_PAYMENTS_PER_HOUR !== undefined) {
    ratesPerHour.register_payment = e.FTE_PAYMENTS_PER_HOUR;
    sources.register_payment = 'FTE_PAYMENTS_PER_HOUR';
  } else {
    sources.register_payment =
      file.rate_per_hour?.register_payment !== undefined ? localConfigPath(env) : 'default';
  }
  const handbookPayments = handbookDoc === undefined ? undefined : paymentRateFromHandbook(handbookDoc);
  const localPayments = ratesPerHour.register_payment ?? DEFAULT_PAYMENTS_PER_HOUR;
  if (handbookPayments !== undefined && handbookPayments < localPayments) {
    ratesPerHour.register_payment = handbookPayments;
    sources.register_payment = `${HANDBOOK_FILE} (stricter than the local setting)`;
  }
  const paymentCeiling = e.FTE_PAYMENT_CEILING ?? file.payment_ceiling ?? DEFAULT_PAYMENT_CEILING;
  sources.payment_ceiling =
    e.FTE_PAYMENT_CEILING !== undefined
      ? 'FTE_PAYMENT_CEILING'
      : file.payment_ceiling !== undefined
        ? localConfigPath(env)
        : 'default';
  return {
    smtp: e.SMTP_HOST
      ? {
          host: e.SMTP_HOST,
          port: e.SMTP_PORT ?? (secure ? 465 : 587),
          secure,
          auth:
            e.SMTP_USER && e.SMTP_OAUTH_TOKEN_FILE
              ? { user: e.SMTP_USER, oauthTokenFile: e.SMTP_OAUTH_TOKEN_FILE }
              : e.SMTP_USER && e.SMTP_PASSWORD
                ? { user: e.SMTP_USER, pass: e.SMTP_PASSWORD }
                : undefined,
          from,
        }
      : undefined,
    from,
    dryRun: e.DRY_RUN ?? file.dry_run ?? false,
    emailsPerHour,
    owner: e.FTE_OWNER ?? file.owner ?? 'owner',
    ratesPerHour,
    allowedActions,
    limitSources: sources,
    odoo: loadLaptopOdooSettings(env),
    paymentCeiling,
  };
}
