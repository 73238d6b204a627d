import { type Logger, pino } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const OAUTH_FIELDS = [
  'access_token',
  'refresh_token',
  'accessToken',
  'refreshToken',
  'client_secret',
  'clientSecret',
];
/** Log fields that would hold an OAuth secret, at the top level and one level down. */
export const OAUTH_SECRET_PATHS = [...OAUTH_FIELDS, ...OAUTH_FIELDS.map((f) => `*.${f}`)];

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
      // Defence in depth: fte never passes a token to the logger (core/oauth), and if one ever were, it
      // would not be written.
      redact: { paths: OAUTH_SECRET_PATHS, censor: '[redacted]' },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}
