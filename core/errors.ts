/**
 * The one root error type. Every failure a caller can act on is an FteError with an exit code (what the CLI
 * exits with, mapped in one place: cli/errors.ts) and whether trying again later may succeed.
 */
export class FteError extends Error {
  readonly exitCode: number;
  readonly retryable: boolean;

  constructor(message: string, options: { exitCode?: number; retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? 1;
    this.retryable = options.retryable ?? false;
  }
}

/** Exit codes shared by every command (sysexits-style where one fits). */
export const EXIT = {
  failure: 1,
  usage: 2,
  lost: 3,
  missing: 4,
  dataError: 65,
  unavailable: 69,
  software: 70,
  tempFail: 75,
  config: 78,
} as const;

/** A vault path that is a symlink, a special file, too large, or under such a component: never read or moved. */
export class UnsafePathError extends FteError {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`unsafe vault path ${JSON.stringify(path)}: ${reason}`, { exitCode: EXIT.dataError });
  }
}
