import { DecisionError } from '../../executor/decisions.js';
import { SetupError } from '../../executor/setup.js';
import { CliError, EXIT } from '../errors.js';

/** Maps the local executive's typed errors to one-line CLI errors with their exit codes. */
export function asCliError(error: unknown): unknown {
  if (error instanceof SetupError)
    return new CliError(error.message, error.kind === 'usage' ? EXIT.usage : EXIT.config);
  if (error instanceof DecisionError)
    return new CliError(error.message, error.kind === 'not_found' ? EXIT.notFound : EXIT.error);
  return error;
}
