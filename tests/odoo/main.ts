/**
 * The test Odoo server standalone (and the entry point of the test image fte-test/odoo-standin, built by
 * scripts/build-test-images.sh): NOT Odoo. Settings from the environment:
 *   ODOO_VERSION        advertised version (default 19.0; JSON-2 only from 19)
 *   ODOO_HTTP_PORT      port (default 8069), on 0.0.0.0
 *   ODOO_RC             Odoo's config file (default /etc/odoo/odoo.conf): db_name and data_dir are read
 *   ODOO_TEST_ADMIN_KEY, ODOO_TEST_CLOUD_KEY, ODOO_TEST_LAPTOP_KEY
 *                       API keys of the users admin (all rights), cloud (drafts only), laptop (post, pay)
 *   ODOO_TEST_ROUTES=1  enables POST /__test__/fault and GET /__test__/calls
 * Like Odoo's attachment store, it writes one file into <data_dir>/filestore/<db_name>/<sha1[0:2]>/<sha1>
 * on start unless it is there already (the chart's backup test tars the filestore up). State is in
 * memory only: nothing is written to PostgreSQL.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_USERS, type OdooUser, startOdooServer } from './server.js';

function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} odoo-test-server: ${message}\n`);
}

function readConfig(path: string): Record<string, string> {
  const options: Record<string, string> = {};
  if (!existsSync(path)) return options;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*([a-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m?.[1]) options[m[1]] = m[2] ?? '';
  }
  return options;
}

function writeAttachment(dataDir: string, db: string, version: string): void {
  const content = `attachment written by the fte test Odoo server ${version} for database ${db}\n`;
  const sha1 = createHash('sha1').update(content).digest('hex');
  const dir = join(dataDir, 'filestore', db, sha1.slice(0, 2));
  const path = join(dir, sha1);
  if (existsSync(path)) {
    log(`filestore: ${path} already there`);
    return;
  }
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, content);
    log(`filestore: wrote ${path}`);
  } catch (e) {
    log(`filestore: cannot write ${path}: ${e instanceof Error ? e.message : e}`);
  }
}

const version = process.env.ODOO_VERSION || '19.0';
const config = readConfig(process.env.ODOO_RC || '/etc/odoo/odoo.conf');
const database = config.db_name || 'odoo';
const keys: Record<string, string | undefined> = {
  admin: process.env.ODOO_TEST_ADMIN_KEY,
  cloud: process.env.ODOO_TEST_CLOUD_KEY,
  laptop: process.env.ODOO_TEST_LAPTOP_KEY,
};
const users: OdooUser[] = DEFAULT_USERS.map((u) => ({
  ...u,
  apiKeys: keys[u.login] ? [keys[u.login]!] : [],
}));

writeAttachment(config.data_dir || '/var/lib/odoo', database, version);
const server = await startOdooServer({
  version,
  database,
  users,
  host: '0.0.0.0',
  port: Number(process.env.ODOO_HTTP_PORT || 8069),
  testRoutes: process.env.ODOO_TEST_ROUTES === '1',
  log,
});
log(`Odoo ${version} test server (not Odoo) listening on ${server.url} (db ${database})`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    server.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
