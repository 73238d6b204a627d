import type { z } from 'zod';
import { EXIT, FteError } from './errors.js';

/**
 * A setting (environment variable, option, secret file) is missing or wrong: the one configuration error
 * of both agents. The CLI exits 78 (EX_CONFIG) with its message, which names the setting and what it
 * must be (never a secret's value).
 */
export class ConfigError extends FteError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { exitCode: EXIT.config, cause: options.cause });
  }
}

/**
 * Settings from the environment through a zod schema; empty variables count as unset. A failure is a
 * ConfigError (or `makeError`'s subclass) naming the first bad variable, what it must be and what it was
 * (`(hidden)` for the names in `secret`).
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv,
  options: { secret?: readonly string[]; makeError?: (message: string) => ConfigError } = {},
): z.infer<S> {
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = schema.safeParse(set);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const name = String(issue.path[0]);
  const value = options.secret?.includes(name) ? '(hidden)' : JSON.stringify(env[name]);
  const message = `${name}: ${issue.message} (got ${value})`;
  throw options.makeError ? options.makeError(message) : new ConfigError(message);
}
