import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, relative } from 'node:path';
import type { z } from 'zod';
import { isSafeTaskId } from '../../core/ids.js';
import {
  ApproveRequest,
  CSRF_HEADER,
  type DecisionResult,
  LoginRequest,
  RejectRequest,
  ResolveRequest,
  type SessionInfo,
} from '../../core/ui-api.js';
import { DecisionError } from '../decisions.js';
import { isLoopback } from './config.js';
import type { LiveFeed } from './live.js';
import type { ReadModel } from './read-model.js';
import { clearedCookie, type Session, Sessions, sameSecret, sessionCookie } from './sessions.js';

/**
 * The status page's HTTP server: the built React app (`dist/dashboard/`) at `/`, its JSON API under
 * `/api/` (core/ui-api.ts), live updates as Server-Sent Events. Served by `fte executor` (with decisions)
 * and by `fte operator` (read-only, no decisions).
 *
 * Security: a loopback bind only answers requests whose Host is a loopback name (no DNS rebinding); every
 * POST needs the session's CSRF token, and a cross-site Origin or `Sec-Fetch-Site` is refused; the
 * session cookie is HttpOnly and SameSite=Strict; the Content-Security-Policy allows no inline script or
 * style; no response carries a secret. With a password or token set, everything but the app's files,
 * `/api/session` and `/api/login` needs a signed-in session.
 */

/** The owner's decisions through the page; absent in read-only (cluster) mode. */
export interface DecisionPort {
  approve(id: string, request: ApproveRequest): Promise<DecisionResult>;
  reject(id: string, request: RejectRequest): Promise<DecisionResult>;
  resolve(id: string, request: ResolveRequest): Promise<DecisionResult>;
}

export type StatusPageOptions = {
  bind: string;
  port: number;
  agent: string;
  mode: 'local' | 'cluster';
  read: ReadModel;
  live: LiveFeed;
  decisions?: DecisionPort;
  credentials: { passwordHash?: string; token?: string };
  /** The built app; default `dist/dashboard` next to this module's `dist/`. */
  assetsDir?: string;
  /** Mark the cookie Secure (behind a TLS ingress). */
  secureCookie?: boolean;
  log?: (message: string, fields?: Record<string, unknown>) => void;
};

export type StatusPage = { url: string; port: number; close(): Promise<void> };

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

const MAX_BODY_BYTES = 512 * 1024;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export const DEFAULT_ASSETS_DIR = join(import.meta.dirname, '..', '..', 'dashboard');

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Asset = { type: string; body: Buffer; immutable: boolean };

/** Every file of the built app, read once at start (a fixed map: no path from a request touches the disk). */
async function loadAssets(dir: string): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  if (!existsSync(join(dir, 'index.html'))) return assets;
  const walk = async (sub: string): Promise<void> => {
    for (const entry of await readdir(sub, { withFileTypes: true })) {
      const path = join(sub, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const rel = relative(dir, path).split('\\').join('/');
        assets.set(`/${rel}`, {
          type: TYPES[extname(entry.name)] ?? 'application/octet-stream',
          body: await readFile(path),
          immutable: rel.startsWith('assets/'),
        });
      }
    }
  };
  await walk(dir);
  return assets;
}

export async function serveStatusPage(o: StatusPageOptions): Promise<StatusPage> {
  const assets = await loadAssets(o.assetsDir ?? DEFAULT_ASSETS_DIR);
  const sessions = new Sessions(o.credentials);
  const loopbackOnly = isLoopback(o.bind);
  let port = o.port;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    if (loopbackOnly && !loopbackHost(req.headers.host, port)) {
      throw new HttpError(421, 'this page answers only at 127.0.0.1 or localhost');
    }
    const url = new URL(req.url ?? '/', 'http://page.invalid');
    if (!url.pathname.startsWith('/api/')) return serveAsset(res, url.pathname, req.method);
    res.setHeader('cache-control', 'no-store');
    let session = sessions.find(req.headers.cookie);
    if (!session) {
      session = sessions.create();
      res.setHeader('set-cookie', sessionCookie(session, o.secureCookie ?? false));
    }
    if (req.method === 'POST') checkCsrf(req, session);
    else if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    const path = url.pathname;

    if (path === '/api/session' && req.method !== 'POST') return json(res, 200, sessionInfo(session));
    if (path === '/api/login' && req.method === 'POST') {
      const { secret } = parse(LoginRequest, await readBody(req));
      const verdict = await sessions.login(session, secret);
      if (verdict === 'throttled') throw new HttpError(429, 'too many failed sign-ins; wait a minute');
      if (verdict === 'wrong') {
        o.log?.('status page sign-in refused', { remote: req.socket.remoteAddress });
        throw new HttpError(401, 'wrong password or token');
      }
      const fresh = sessions.signedIn();
      res.setHeader('set-cookie', sessionCookie(fresh, o.secureCookie ?? false));
      return json(res, 200, sessionInfo(fresh));
    }
    if (path === '/api/logout' && req.method === 'POST') {
      sessions.end(session);
      res.setHeader('set-cookie', clearedCookie());
      return json(res, 200, { ok: true });
    }
    if (!session.authenticated) throw new HttpError(401, 'sign in first');

    if (req.method === 'POST') return decide(req, res, path);
    if (path === '/api/events') return o.live.attach(res);
    if (path === '/api/overview') return json(res, 200, await o.read.overview());
    if (path === '/api/approvals') return json(res, 200, await o.read.approvals());
    const approval = /^\/api\/approvals\/([^/]+)$/.exec(path);
    if (approval) {
      const detail = await o.read.approval(taskId(approval[1]));
      if (!detail) throw new HttpError(404, 'no such approval request in Pending_Approval/');
      return json(res, 200, detail);
    }
    if (path === '/api/uncertain') return json(res, 200, await o.read.uncertain());
    if (path === '/api/tasks') return json(res, 200, await o.read.tasks());
    if (path === '/api/activity') {
      const limit = Number(url.searchParams.get('limit') ?? 200);
      return json(res, 200, await o.read.activity(Number.isInteger(limit) && limit > 0 ? limit : 200));
    }
    if (path === '/api/costs') return json(res, 200, await o.read.costs());
    if (path === '/api/briefings') return json(res, 200, await o.read.briefings());
    throw new HttpError(404, 'not found');
  };

  const sessionInfo = (session: Session): SessionInfo => ({
    mode: o.mode,
    readOnly: !o.decisions,
    authRequired: sessions.authRequired,
    authenticated: session.authenticated,
    csrf: session.csrf,
    agent: o.agent,
  });

  const decide = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const match = /^\/api\/(approvals|uncertain)\/([^/]+)\/(approve|reject|resolve)$/.exec(path);
    if (!match) throw new HttpError(404, 'not found');
    if (!o.decisions) throw new HttpError(403, 'read-only: approve on your laptop');
    const [, kind, rawId, verb] = match;
    const id = taskId(rawId);
    const body = await readBody(req);
    let result: DecisionResult;
    if (kind === 'approvals' && verb === 'approve') {
      result = await o.decisions.approve(id, parse(ApproveRequest, body));
    } else if (kind === 'approvals' && verb === 'reject') {
      result = await o.decisions.reject(id, parse(RejectRequest, body));
    } else if (kind === 'uncertain' && verb === 'resolve') {
      result = await o.decisions.resolve(id, parse(ResolveRequest, body));
    } else {
      throw new HttpError(404, 'not found');
    }
    o.live.notify(['tasks', 'overview', 'activity']);
    return json(res, 200, result);
  };

  const serveAsset = (res: ServerResponse, pathname: string, method: string | undefined): void => {
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    if (assets.size === 0) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('The status page was not built: run make build (it builds dashboard/ into dist/dashboard/).\n');
      return;
    }
    // Unknown paths get the app (its own router shows the view), never a file from the disk.
    const asset =
      assets.get(pathname) ?? (pathname.startsWith('/assets/') ? undefined : assets.get('/index.html'));
    if (!asset) throw new HttpError(404, 'not found');
    res.writeHead(200, {
      'content-type': asset.type,
      'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(method === 'HEAD' ? undefined : asset.body);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const { status, message } = httpErrorOf(error);
      if (status >= 500) o.log?.('status page request failed', { path: req.url, err: String(error) });
      if (res.headersSent) {
        res.end();
        return;
      }
      json(res, status, { error: message });
    });
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.bind, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const host = o.bind.includes(':') ? `[${o.bind}]` : o.bind;
  return {
    url: `http://${host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Host headers a loopback page answers: 127.0.0.1, localhost and [::1], at its port. */
function loopbackHost(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const allowed = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  return allowed.includes(host.toLowerCase());
}

function checkCsrf(req: IncomingMessage, session: Session): void {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new HttpError(403, 'cross-site request refused');
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      throw new HttpError(403, 'bad Origin');
    }
    if (originHost !== req.headers.host) throw new HttpError(403, 'cross-origin request refused');
  } else if (origin === 'null') {
    throw new HttpError(403, 'cross-origin request refused');
  }
  const token = req.headers[CSRF_HEADER];
  if (typeof token !== 'string' || token === '' || !sameSecret(token, session.csrf)) {
    throw new HttpError(403, 'missing or wrong CSRF token: reload the page');
  }
}

function taskId(raw: string | undefined): string {
  let id: string;
  try {
    id = decodeURIComponent(raw ?? '');
  } catch {
    throw new HttpError(400, 'bad task id');
  }
  if (!isSafeTaskId(id)) throw new HttpError(400, 'bad task id');
  return id;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json'))
    throw new HttpError(415, 'send JSON (content-type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'request too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HttpError(422, `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(body);
}

function httpErrorOf(error: unknown): { status: number; message: string } {
  if (error instanceof HttpError) return { status: error.status, message: error.message };
  if (error instanceof DecisionError) {
    const status = error.kind === 'not_found' ? 404 : error.kind === 'conflict' ? 409 : 422;
    return { status, message: error.message };
  }
  return { status: 500, message: 'internal error (see the executor log)' };
}
