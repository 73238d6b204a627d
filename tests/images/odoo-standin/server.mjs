// A STAND-IN for Odoo in the test image fte-test/odoo-standin (scripts/build-test-images.sh), NOT Odoo:
// until a protocol-faithful Odoo fake exists it answers only what charts/fte and the tests touch:
//   GET  /web/health                    {"status": "pass"}            (the chart's probes)
//   GET  /web/version                   Odoo's common.version() result (server_version, …)
//   POST /jsonrpc  common.version       the same, as a JSON-RPC 2.0 result
//   POST /web/webclient/version_info    the same, as a JSON-RPC 2.0 result
// Anything else is a 404 (or a JSON-RPC error for other services/methods). It never connects to
// PostgreSQL. On start it reads the chart's /etc/odoo/odoo.conf (data_dir, db_name) and, like Odoo's
// attachment store, writes one file into <data_dir>/filestore/<db_name>/<sha1[0:2]>/<sha1> unless it is
// there already, so the filestore the backup tars up has content.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const VERSION = process.env.ODOO_VERSION || '18.0';
const CONFIG = process.env.ODOO_RC || '/etc/odoo/odoo.conf';
const PORT = Number(process.env.ODOO_HTTP_PORT || 8069);

function log(message) {
  process.stdout.write(`${new Date().toISOString()} odoo-standin: ${message}\n`);
}

function readConfig(path) {
  const options = {};
  if (!existsSync(path)) return options;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*([a-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) options[m[1]] = m[2];
  }
  return options;
}

/** What Odoo's odoo.service.common.exp_version() returns, for a version like "18.0". */
function versionInfo(version) {
  const [major, minor] = version.split('.').map(Number);
  return {
    server_version: version,
    server_version_info: [major, minor || 0, 0, 'final', 0, ''],
    server_serie: version,
    protocol_version: 1,
  };
}

function writeAttachment(dataDir, db) {
  const content = `attachment written by the fte odoo stand-in ${VERSION} for database ${db}\n`;
  const sha1 = createHash('sha1').update(content).digest('hex');
  const dir = join(dataDir, 'filestore', db, sha1.slice(0, 2));
  const path = join(dir, sha1);
  if (existsSync(path)) {
    log(`filestore: ${path} already there`);
    return;
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(path, content);
  log(`filestore: wrote ${path}`);
}

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function rpcError(id, message) {
  return {
    jsonrpc: '2.0',
    id,
    error: { code: 200, message: 'Odoo Server Error', data: { name: 'odoo-standin', message } },
  };
}

const options = readConfig(CONFIG);
const dataDir = options.data_dir || '/var/lib/odoo';
const db = options.db_name || 'odoo';
writeAttachment(dataDir, db);

const server = createServer(async (req, res) => {
  const path = (req.url || '/').split('?')[0];
  try {
    if (req.method === 'GET' && path === '/web/health') return json(res, 200, { status: 'pass' });
    if (req.method === 'GET' && path === '/web/version') return json(res, 200, versionInfo(VERSION));
    if (req.method === 'POST' && (path === '/jsonrpc' || path === '/web/webclient/version_info')) {
      let call;
      try {
        call = JSON.parse((await readBody(req)) || '{}');
      } catch {
        return json(res, 400, rpcError(null, 'request body is not JSON'));
      }
      const id = call.id ?? null;
      const params = call.params || {};
      const isVersion =
        path === '/web/webclient/version_info' || (params.service === 'common' && params.method === 'version');
      if (!isVersion) {
        return json(res, 200, rpcError(id, `the stand-in has no ${params.service}.${params.method}`));
      }
      return json(res, 200, { jsonrpc: '2.0', id, result: versionInfo(VERSION) });
    }
    json(res, 404, { error: `not found: ${req.method} ${path}` });
  } catch (error) {
    json(res, 500, { error: String(error) });
  }
});

server.listen(PORT, '0.0.0.0', () => log(`Odoo ${VERSION} stand-in listening on 0.0.0.0:${PORT} (db ${db})`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
