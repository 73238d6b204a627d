import type { Logger } from 'pino';
import { loadUiConfig } from '../executor/ui/config.js';
import { LiveFeed } from '../executor/ui/live.js';
import { ReadModel } from '../executor/ui/read-model.js';
import { type StatusPage, serveStatusPage } from '../executor/ui/server.js';
import { CliError, EXIT } from './errors.js';

/**
 * The status page in cluster mode (`fte operator --ui-port`): the same app, read-only (no decision is
 * ever taken in the cloud: "approve on your laptop"), read from the operator's clone of the vault.
 * Listening beyond loopback (in a pod) needs FTE_UI_PASSWORD_HASH or FTE_UI_TOKEN, like the laptop's.
 */
export async function startClusterPage(options: {
  vault: string;
  agent: string;
  port: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}): Promise<StatusPage> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CliError(
      `--ui-port must be a whole number from 0 to 65535 (got ${JSON.stringify(options.port)})`,
      EXIT.usage,
    );
  }
  const ui = loadUiConfig(options.env, { port });
  const live = new LiveFeed(options.vault);
  const page = await serveStatusPage({
    bind: ui.bind,
    port: ui.port,
    agent: options.agent,
    mode: 'cluster',
    read: new ReadModel({ root: options.vault, agent: options.agent }),
    live,
    credentials: { passwordHash: ui.passwordHash, token: ui.token },
    secureCookie: options.env.FTE_UI_SECURE_COOKIE === '1',
    log: (message, fields) => options.logger.warn(fields ?? {}, message),
  });
  options.logger.info({ url: page.url }, 'read-only status page listening');
  return {
    ...page,
    close: async () => {
      live.close();
      await page.close();
    },
  };
}
