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
