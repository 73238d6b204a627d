import { EXIT as CORE_EXIT, FteError } from '../core/errors.js';

/** Exit codes of the `fte` CLI; documented in `fte --help`. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  /** `fte claim`: another agent owns the item. */
  claimLost: 3,
  /** `fte claim`: no such item in Needs_Action/. */
  notFound: 4,
  /** Bad data: a file, header or argument that cannot be what it claims to be (EX_DATAERR). */
  dataError: CORE_EXIT.dataError,
  /** A service fte needs (model API, Kubernetes API) refused for good (EX_UNAVAILABLE). */
  unavailable: CORE_EXIT.unavailable,
  /** A bug: an error fte did not expect (EX_SOFTWARE); FTE_DEBUG=1 prints the stack. */
  internal: CORE_EXIT.software,
  /** The remote could not be reached and the command needed it (EX_TEMPFAIL). */
  offline: CORE_EXIT.tempFail,
  /** Refused by configuration, e.g. the operator started with send credentials (EX_CONFIG). */
  config: CORE_EXIT.config,
} as const;

/** An error the CLI reports as one line with a chosen exit code, never as a stack trace. */
export class CliError extends FteError {
  constructor(message: string, exitCode: number = EXIT.error) {
    super(message, { exitCode });
  }
}

/** What the CLI prints for an error (one line, no `fte:` prefix) and the code it exits with. */
export type ErrorReport = { line: string; exitCode: number; stack?: string };

/**
 * The one place an error becomes a message and an exit code. An FteError is expected (its message says
 * what to do, its exit code what kind it is); anything else is a bug in fte: "internal error", exit 70,
 * with the stack only under FTE_DEBUG=1.
 */
export function reportFor(error: unknown, env: NodeJS.ProcessEnv = process.env): ErrorReport {
  const debug = Boolean(env.FTE_DEBUG);
  const stack = debug && error instanceof Error ? error.stack : undefined;
  if (error instanceof FteError) return { line: oneLine(error.message), exitCode: error.exitCode, stack };
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const hint = debug ? '' : ', run with FTE_DEBUG=1 for the stack';
  return { line: `internal error: ${oneLine(message)}${hint}`, exitCode: EXIT.internal, stack };
}

/** Writes the report of `error` to stderr as one line (`context` says where it came from); returns its exit code. */
export function writeError(error: unknown, context?: string, env: NodeJS.ProcessEnv = process.env): number {
  const report = reportFor(error, env);
  process.stderr.write(`fte: ${context ? `${context}: ` : ''}${report.line}\n`);
  if (report.stack) process.stderr.write(`${report.stack}\n`);
  return report.exitCode;
}

function oneLine(text: string): string {
  const line = text.replace(/\s*\r?\n\s*/g, ' ').trim();
  return line.length > 2000 ? `${line.slice(0, 2000)}…` : line || '(no message)';
}
