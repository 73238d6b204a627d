import pino, { type Logger } from 'pino';

/** Structured logs on stderr (stdout is for the CLI's own lines); the task id goes on every line about a task. */
export function createLogger(name: string, level = process.env.FTE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { agent: name } }, pino.destination({ fd: 2, sync: true }));
}
