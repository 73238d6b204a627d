import { z } from 'zod';
import { assertTimeZone, InvalidTimeZoneError } from '../core/briefing/week.js';
import { ConfigError, parseEnv } from '../core/config.js';
import { LOG_LEVELS } from '../core/log.js';
import { DEFAULT_CLAUDE_MODEL } from './drafters/claude.js';

const positive = (fallback: number) =>
  z.coerce.number<string | undefined>().positive('must be a positive number').default(fallback);
const count = (fallback: number) =>
  z.coerce
    .number<string | undefined>()
    .int('must be a whole number')
    .nonnegative('must be 0 or more')
    .default(fallback);

/** The operator's settings from the environment; every variable is optional. */
export const OperatorEnv = z.object({
  /** Claude drafts when set; the template drafter otherwise. */
  ANTHROPIC_API_KEY: z.string().optional(),
  /** Read by the SDK itself; listed so a typo shows up in errors. */
  ANTHROPIC_BASE_URL: z.url('must be a URL').optional(),
  FTE_CLAUDE_MODEL: z.string().min(1).default(DEFAULT_CLAUDE_MODEL),
  FTE_CLAUDE_MAX_RETRIES: count(2),
  /** "input,output" USD per million tokens, for a model the built-in table does not know. */
  FTE_CLAUDE_PRICE: z
    .string()
    .regex(/^\s*[0-9.]+\s*,\s*[0-9.]+\s*$/, 'must be "input,output" USD per million tokens')
    .optional(),
  FTE_APPROVAL_TTL_HOURS: positive(48),
  FTE_RESYNC_SECONDS: positive(60),
  FTE_OPERATOR_WORKERS: count(2).pipe(z.number().min(1, 'must be at least 1')),
  FTE_OPERATOR_MAX_ATTEMPTS: count(5).pipe(z.number().min(1, 'must be at least 1')),
  /** Base of the per-task exponential backoff after an error. */
  FTE_OPERATOR_BACKOFF_MS: positive(500),
  /** Address of the health/metrics server (0.0.0.0 in a pod, so probes reach it). */
  FTE_OPERATOR_BIND: z.string().min(1).default('127.0.0.1'),
  /** Seconds a stop waits for the step in flight before cancelling it. */
  FTE_STOP_GRACE_SECONDS: positive(30),
  FTE_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** With Odoo (ODOO_URL): vendor bills due within this many days become register_payment requests. */
  FTE_BILLS_DUE_DAYS: count(3),
  /** With Odoo: seconds between two passes over the vendor bills. */
  FTE_ODOO_POLL_SECONDS: positive(300),
  /** The daemon writes the Monday briefing (docs/briefing.md); 0 turns it off (e.g. the chart's CronJob does it). */
  FTE_BRIEFING: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', '']))
    .transform((v) => v !== '0' && v !== 'false' && v !== 'no' && v !== 'off')
    .default(true),
  /** The owner's IANA time zone: the briefing's weeks and its Monday 07:00. */
  FTE_TIMEZONE: z
    .string()
    .trim()
    .transform((v) => v || 'UTC')
    .refine(
      (v) => {
        try {
          assertTimeZone(v);
          return true;
        } catch (error) {
          if (error instanceof InvalidTimeZoneError) return false;
          throw error;
        }
      },
      { message: 'must be an IANA time zone (e.g. Europe/Berlin, UTC)' },
    )
    .default('UTC'),
});
export type OperatorEnv = z.infer<typeof OperatorEnv>;

export { ConfigError };

/** Parses the environment; the error names the first bad variable and what it must be. */
export function operatorEnv(env: NodeJS.ProcessEnv): OperatorEnv {
  return parseEnv(OperatorEnv, env, { secret: ['ANTHROPIC_API_KEY'] });
}
