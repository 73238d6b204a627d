import { type Logger, pino } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The one logger of both agents: JSON lines on stderr (stdout is for the command's own output),
 * synchronous so nothing is lost at exit, ISO timestamps, the agent's name on every line. `level`
 * defaults to FTE_LOG_LEVEL, else info.
 */
export function createLogger(options: { agent: string; level?: string }): Logger {
  return pino(
    {
      level: options.level ?? process.env.FTE_LOG_LEVEL ?? 'info',
      base: { agent: options.agent },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 2, sync: true }),
  );
}
