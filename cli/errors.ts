/** Exit codes of the `fte` CLI; documented in `fte --help`. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  /** `fte claim`: another agent owns the item. */
  claimLost: 3,
  /** `fte claim`: no such item in Needs_Action/. */
  notFound: 4,
  /** The remote could not be reached and the command needed it (EX_TEMPFAIL). */
  offline: 75,
  /** Refused by configuration, e.g. the operator started with send credentials (EX_CONFIG). */
  config: 78,
} as const;

/** An error the CLI reports as one line with a chosen exit code, never as a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
  }
}
