import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError } from '../../core/config.js';
import { DEFAULT_UI_BIND, DEFAULT_UI_PORT } from './defaults.js';

/**
 * Where and how the status page listens (DESIGN.md §5): loopback by default; any other address refuses
 * to start unless a password (a bcrypt hash, never the password itself) or a token (≥ 32 characters) is
 * set. From the environment (`FTE_UI_BIND`, `FTE_UI_PORT`, `FTE_UI_PASSWORD_HASH`, `FTE_UI_TOKEN`), which
 * `fte executor install` keeps in an env file outside the vault; `--ui-port`/`--ui-bind` override.
 */

export { DEFAULT_UI_BIND, DEFAULT_UI_PORT };

const UiEnv = z.object({
  FTE_UI_BIND: z.string().trim().min(1).optional(),
  FTE_UI_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  FTE_UI_PASSWORD_HASH: z
    .string()
    .trim()
    .regex(
      /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/,
      'must be a bcrypt hash ($2b$12$…): fte ui hash-password makes one',
    )
    .optional(),
  FTE_UI_TOKEN: z.string().trim().min(32, 'must be at least 32 characters').optional(),
  /** `0` turns the page off. */
  FTE_UI: z.enum(['0', '1']).optional(),
});

export type UiConfig = {
  enabled: boolean;
  bind: string;
  port: number;
  passwordHash?: string;
  token?: string;
};

export class UiConfigError extends ConfigError {}

/** True for 127.0.0.0/8, ::1 and `localhost`: the only binds that need no password. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

export function loadUiConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: { port?: number; bind?: string } = {},
): UiConfig {
  const parsed = UiEnv.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UiConfigError(`invalid status page setting ${String(issue?.path[0] ?? '')}: ${issue?.message}`);
  }
  const e = parsed.data;
  const config: UiConfig = {
    enabled: e.FTE_UI !== '0',
    bind: overrides.bind ?? e.FTE_UI_BIND ?? DEFAULT_UI_BIND,
    port: overrides.port ?? e.FTE_UI_PORT ?? DEFAULT_UI_PORT,
    passwordHash: e.FTE_UI_PASSWORD_HASH,
    token: e.FTE_UI_TOKEN,
  };
  const problem = uiBindProblem(config);
  if (problem) throw new UiConfigError(problem);
  return config;
}

/** Why this bind must not start, or undefined: a non-loopback address without a password or token. */
export function uiBindProblem(config: UiConfig): string | undefined {
  if (!config.enabled || isLoopback(config.bind)) return undefined;
  if (config.passwordHash || config.token) return undefined;
  return `the status page would listen on ${config.bind}, which is not loopback, without a password: set FTE_UI_PASSWORD_HASH (fte ui hash-password) or FTE_UI_TOKEN, or bind to 127.0.0.1`;
}
