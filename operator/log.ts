import { type Logger, pino } from 'pino';

/** JSON lines on stderr (stdout is for the command's own output); synchronous so nothing is lost at exit. */
export function createLogger(options: { level?: string; agent: string }): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { agent: options.agent },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 2, sync: true }),
  );
}
