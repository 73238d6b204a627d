import { ConfigError } from '../core/config.js';
import { loadOdooSettings, type OdooSettings } from '../core/odoo/settings.js';

/**
 * The laptop's Odoo settings (issue 13 part 4): the same ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_PROTOCOL,
 * ODOO_TIMEOUT_MS and ODOO_READ_RETRIES as the cloud's, validated by the same zod schema
 * (core/odoo/settings.ts), but the key is ODOO_POST_API_KEY or ODOO_POST_API_KEY_FILE: the key of a user
 * that may post invoices and register payments. It exists on the laptop only; the cloud's draft-only
 * ODOO_API_KEY is never used here, even when it is set in the same environment.
 *
 * No ODOO_URL: undefined (the Odoo actions report themselves unavailable and their approvals wait).
 */
export function loadLaptopOdooSettings(env: NodeJS.ProcessEnv): OdooSettings | undefined {
  const set = (name: string) => env[name] !== undefined && env[name] !== '';
  if (!set('ODOO_URL')) {
    if (set('ODOO_POST_API_KEY') || set('ODOO_POST_API_KEY_FILE')) {
      throw new ConfigError('ODOO_POST_API_KEY is set but ODOO_URL is not: set both, or neither');
    }
    return undefined;
  }
  const mapped: NodeJS.ProcessEnv = {};
  for (const name of [
    'ODOO_URL',
    'ODOO_DB',
    'ODOO_LOGIN',
    'ODOO_PROTOCOL',
    'ODOO_TIMEOUT_MS',
    'ODOO_READ_RETRIES',
  ]) {
    if (env[name] !== undefined) mapped[name] = env[name];
  }
  if (env.ODOO_POST_API_KEY !== undefined) mapped.ODOO_API_KEY = env.ODOO_POST_API_KEY;
  if (env.ODOO_POST_API_KEY_FILE !== undefined) mapped.ODOO_API_KEY_FILE = env.ODOO_POST_API_KEY_FILE;
  try {
    return loadOdooSettings(mapped);
  } catch (error) {
    if (error instanceof ConfigError) {
      // The shared loader names the cloud's variables; the laptop's are the POST ones.
      throw new ConfigError(error.message.replace(/\bODOO_API_KEY(_FILE)?\b/g, 'ODOO_POST_API_KEY$1'), {
        cause: error,
      });
    }
    throw error;
  }
}

export const ODOO_SETTINGS_HINT =
  'set ODOO_URL, ODOO_DB, ODOO_LOGIN and ODOO_POST_API_KEY (or ODOO_POST_API_KEY_FILE): the key of an Odoo user that may post and pay';
