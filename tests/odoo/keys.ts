import { randomBytes } from 'node:crypto';
import type { OdooSettings } from '../../core/odoo/client.js';
import { DEFAULT_USERS, type OdooTestServer, type OdooUser } from './server.js';

/** The test server's three users: an admin, the cloud's draft-only user and the laptop's posting user. */
export type OdooWho = 'admin' | 'cloud' | 'laptop';

/** Fresh API keys for the three users (one set per test file: no key is ever written down). */
export function odooKeys(): Record<OdooWho, string> {
  return {
    admin: `adm${randomBytes(16).toString('hex')}`,
    cloud: `cld${randomBytes(16).toString('hex')}`,
    laptop: `lap${randomBytes(16).toString('hex')}`,
  };
}

/** DEFAULT_USERS, each with its key from `keys`. */
export function odooUsers(keys: Record<OdooWho, string>): OdooUser[] {
  return DEFAULT_USERS.map((u) => ({ ...u, apiKeys: [keys[u.login as OdooWho]] }));
}

/** Client settings for `who` on `server` (database "odoo", protocol auto, 5 s timeout, 2 read retries). */
export function odooSettings(
  server: OdooTestServer,
  keys: Record<OdooWho, string>,
  who: OdooWho,
  overrides: Partial<OdooSettings> = {},
): OdooSettings {
  return {
    url: server.url,
    database: 'odoo',
    login: who,
    apiKey: keys[who],
    protocol: 'auto',
    timeoutMs: 5_000,
    readRetries: 2,
    ...overrides,
  };
}
