import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { HANDBOOK_FILE } from '../core/layout.js';

/** The executor's configuration from the environment (a local env file outside the vault), validated by zod. */

export class ConfigError extends Error {}

const booleanish = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', '']))
  .transform((v) => v === '1' || v === 'true' || v === 'yes' || v === 'on');

/** An address as in `SMTP_FROM`: `owner@example.com` or `Name <owner@example.com>`. */
const ADDRESS = /^[^\s@<>]+@[^\s@<>]+\.?[^\s@<>]*$/;
export function bareAddress(from: string): string | undefined {
  const angle = /<([^<>]+)>\s*$/.exec(from);
  const address = (angle ? angle[1]! : from).trim();
  return ADDRESS.test(address) ? address : undefined;
}

const Env = z.object({
  SMTP_HOST: z.string().trim().min(1).optional(),
  SMTP_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  SMTP_SECURE: booleanish.optional(),
  SMTP_USER: z.string().min(1).optional(),
  SMTP_PASSWORD: z.string().min(1).optional(),
  SMTP_FROM: z
    .string()
    .trim()
    .refine((v) => bareAddress(v) !== undefined, {
      message: 'must be an address like owner@example.com or "Name <owner@example.com>"',
    })
    .optional(),
  FTE_EMAIL_RATE_PER_HOUR: z.coerce.number().int().min(0).optional(),
  DRY_RUN: booleanish.optional(),
  FTE_OWNER: z.string().trim().min(1).optional(),
});

export type SmtpConfig = {
  host: string;
  port: number;
  secure: boolean;
  auth?: { user: string; pass: string };
  from: string;
};

export type ExecutorConfig = {
  /** Undefined when SMTP_HOST is not set: emails wait in `Approved/` (DRY_RUN still logs them). */
  smtp?: SmtpConfig;
  /** The From address, also for stable Message-IDs in DRY_RUN. */
  from: string;
  dryRun: boolean;
  /** From FTE_EMAIL_RATE_PER_HOUR, else the handbook, else 10. */
  emailsPerHour: number;
  owner: string;
};

export const DEFAULT_EMAILS_PER_HOUR = 10;

/** "At most 10 emails per hour" in Company_Handbook.md, the owner's own words. */
export function rateFromHandbook(text: string): number | undefined {
  const match = /at most\s+(\d+)\s+e-?mails?\s+(?:per|an|each|every)\s+hour/i.exec(text);
  return match ? Number(match[1]) : undefined;
}

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
}

/** Reads the config; a value that is set but wrong is a ConfigError naming the variable. */
export async function loadExecutorConfig(
  env: NodeJS.ProcessEnv,
  vaultRoot?: string,
): Promise<ExecutorConfig> {
  // An empty value (`SMTP_HOST=` in an env file) means unset.
  const given = Object.entries(env).filter(([k, v]) => k in Env.shape && v !== undefined && v.trim() !== '');
  const parsed = Env.safeParse(Object.fromEntries(given));
  if (!parsed.success) throw new ConfigError(`invalid executor configuration: ${describe(parsed.error)}`);
  const e = parsed.data;
  if ((e.SMTP_USER === undefined) !== (e.SMTP_PASSWORD === undefined)) {
    throw new ConfigError('set both SMTP_USER and SMTP_PASSWORD, or neither');
  }
  if (e.SMTP_HOST && !e.SMTP_FROM) throw new ConfigError('SMTP_HOST is set but SMTP_FROM is not');
  const secure = e.SMTP_SECURE ?? e.SMTP_PORT === 465;
  const from = e.SMTP_FROM ?? 'fte@localhost.invalid';
  let emailsPerHour = e.FTE_EMAIL_RATE_PER_HOUR;
  if (emailsPerHour === undefined && vaultRoot) {
    emailsPerHour = rateFromHandbook(await readFile(join(vaultRoot, HANDBOOK_FILE), 'utf8').catch(() => ''));
  }
  return {
    smtp: e.SMTP_HOST
      ? {
          host: e.SMTP_HOST,
          port: e.SMTP_PORT ?? (secure ? 465 : 587),
          secure,
          auth: e.SMTP_USER && e.SMTP_PASSWORD ? { user: e.SMTP_USER, pass: e.SMTP_PASSWORD } : undefined,
          from,
        }
      : undefined,
    from,
    dryRun: e.DRY_RUN ?? false,
    emailsPerHour: emailsPerHour ?? DEFAULT_EMAILS_PER_HOUR,
    owner: e.FTE_OWNER ?? 'owner',
  };
}
