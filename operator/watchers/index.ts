import type { Logger } from 'pino';
import { imapAccountLabel, imapConfigured, loadImapConfig } from '../../core/imap-config.js';
import { readTokenFile } from '../../core/oauth/token-store.js';
import { ImapInboxWatcher } from './imap.js';
import type { Watcher } from './watcher.js';

export type { Watcher, WatcherContext } from './watcher.js';

/**
 * The watchers `fte operator` starts, chosen by the environment: the IMAP inbox watcher when `IMAP_HOST`
 * is set (ADR 0002). Other items arrive through the vault (a watcher elsewhere, Obsidian, `git push`).
 * Settings that are present but wrong fail here, before the operator starts (ImapConfigError).
 */
export async function watchersFromEnv(env: NodeJS.ProcessEnv, logger: Logger): Promise<Watcher[]> {
  const watchers: Watcher[] = [];
  if (imapConfigured(env)) {
    const config = loadImapConfig(env);
    if (config.oauthTokenFile) {
      // A missing or malformed token file stops the start (exit 78); its scopes were checked already
      // (sendCredentialsIn). The token itself is never logged.
      const token = await readTokenFile(config.oauthTokenFile);
      logger.info(
        { account: imapAccountLabel(config), oauth: { provider: token.provider, scopes: token.scopes } },
        'IMAP watcher configured (OAuth token)',
      );
    } else logger.info({ account: imapAccountLabel(config) }, 'IMAP watcher configured');
    // Read again before each connection, so a rotated IMAP_PASSWORD_FILE is picked up; if it turns
    // unreadable later, the last good settings are kept and the watcher logs the reason.
    let last = config;
    const current = () => {
      try {
        last = loadImapConfig(env);
      } catch (error) {
        logger.warn({ err: (error as Error).message }, 'IMAP settings unreadable; using the last good ones');
      }
      return last;
    };
    watchers.push(new ImapInboxWatcher(current));
  }
  return watchers;
}
