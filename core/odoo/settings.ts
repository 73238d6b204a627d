import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, parseEnv } from '../config.js';

export type OdooProtocolSetting = 'json2' | 'jsonrpc' | 'auto';

/** How to reach Odoo; `apiKey` is a secret: never log it or put it in a message. */
export interface OdooSettings {
  /** Base URL, without a trailing slash (e.g. https://odoo.example.com). */
  url: string;
  database: string;
  /** The user's login: JSON-RPC authenticates with login + API key (JSON-2 needs only the key). */
  login?: string;
  apiKey: string;
  /** json2 (Odoo 19+), jsonrpc (Odoo 17-18), or auto: ask the server its version. */
  protocol: OdooProtocolSetting;
  /** Per request, the whole answer included. */
  timeoutMs: number;
  /** Extra attempts for reads (search_read, read, search_count, fields_get, version); writes get none. */
  readRetries: number;
}

const Schema = z
  .object({
    ODOO_URL: z
      .string()
      .url('must be an http(s) URL such as https://odoo.example.com')
      .refine((u) => /^https?:\/\//.test(u), 'must be an http or https URL'),
    ODOO_DB: z.string().min(1, 'must name the Odoo database'),
    ODOO_LOGIN: z.string().min(1).optional(),
    ODOO_API_KEY: z.string().min(1).optional(),
    ODOO_API_KEY_FILE: z.string().min(1).optional(),
    ODOO_PROTOCOL: z.enum(['json2', 'jsonrpc', 'auto']).default('auto'),
    ODOO_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    ODOO_READ_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  })
  .passthrough();

/**
 * The Odoo settings from the environment (zod-validated): ODOO_URL, ODOO_DB, ODOO_LOGIN (JSON-RPC),
 * ODOO_API_KEY or ODOO_API_KEY_FILE (exactly one), ODOO_PROTOCOL, ODOO_TIMEOUT_MS, ODOO_READ_RETRIES.
 * Throws ConfigError naming the variable, never the key.
 */
export function loadOdooSettings(env: NodeJS.ProcessEnv = process.env): OdooSettings {
  const s = parseEnv(Schema, env, { secret: ['ODOO_API_KEY'] });
  if (s.ODOO_API_KEY && s.ODOO_API_KEY_FILE) {
    throw new ConfigError('ODOO_API_KEY and ODOO_API_KEY_FILE are both set: keep one');
  }
  let apiKey = s.ODOO_API_KEY;
  if (s.ODOO_API_KEY_FILE) {
    try {
      apiKey = readFileSync(s.ODOO_API_KEY_FILE, 'utf8').trim();
    } catch (e) {
      throw new ConfigError(
        `ODOO_API_KEY_FILE: cannot read ${s.ODOO_API_KEY_FILE} (${(e as NodeJS.ErrnoException).code ?? e})`,
        { cause: e },
      );
    }
    if (!apiKey) throw new ConfigError(`ODOO_API_KEY_FILE: ${s.ODOO_API_KEY_FILE} is empty`);
  }
  if (!apiKey) {
    throw new ConfigError('ODOO_API_KEY or ODOO_API_KEY_FILE: set one (an API key of the Odoo user)');
  }
  if (/\s/.test(apiKey)) throw new ConfigError('ODOO_API_KEY: must not contain white space (got (hidden))');
  if (s.ODOO_PROTOCOL === 'jsonrpc' && !s.ODOO_LOGIN) {
    throw new ConfigError(
      'ODOO_LOGIN: required with ODOO_PROTOCOL=jsonrpc (JSON-RPC logs in with login + API key)',
    );
  }
  return {
    url: s.ODOO_URL.replace(/\/+$/, ''),
    database: s.ODOO_DB,
    login: s.ODOO_LOGIN,
    apiKey,
    protocol: s.ODOO_PROTOCOL,
    timeoutMs: s.ODOO_TIMEOUT_MS,
    readRetries: s.ODOO_READ_RETRIES,
  };
}
