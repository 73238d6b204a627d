import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { FteError } from '../errors.js';
import type { ClaimOutcome, SyncReport } from '../vault-repo.js';
import type { ChangeResult, VaultChange, VaultPort } from './change.js';
import { InvalidChangeError } from './local-port.js';

/**
 * The VaultPort over loopback HTTP (DESIGN.md §4): in the pod, the git-sync sidecar (`fte sync --serve`)
 * owns the clone and serves its port; the operator container applies its changes through it and never
 * runs git. Every request carries `Authorization: Bearer <token>` (a shared Secret), bodies are JSON
 * validated with the same zod schemas, and the server listens on a loopback address only.
 */

const MAX_BODY_BYTES = 32 * 1024 * 1024;
const ClaimRequest = z.object({ id: z.string().min(1).max(200) });

export class VaultPortUnavailableError extends FteError {
  constructor(message: string, cause?: unknown) {
    super(message, { exitCode: 75, retryable: true, cause });
  }
}

export type VaultPortServer = { url: string; close(): Promise<void> };

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function serveVaultPort(options: {
  port: VaultPort;
  token: string;
  host?: string;
  listenPort?: number;
  onError?: (error: unknown) => void;
}): Promise<VaultPortServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    throw new FteError(`the vault port listens on loopback only, not ${host}`, { exitCode: 78 });
  }
  if (options.token.length < 16) {
    throw new FteError('the vault port token must be at least 16 characters', { exitCode: 78 });
  }
  const expected = Buffer.from(`Bearer ${options.token}`);
  const authorized = (request: IncomingMessage) => {
    const given = Buffer.from(request.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const server = createServer((request, response) => {
    handle(request, response).catch((error) => {
      options.onError?.(error);
      if (!response.headersSent) reply(response, 500, { error: 'internal error' });
    });
  });
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method === 'GET' && request.url === '/healthz') return reply(response, 200, { ok: true });
    if (!authorized(request)) return reply(response, 401, { error: 'missing or wrong bearer token' });
    if (request.method !== 'POST') return reply(response, 405, { error: 'POST only' });
    let body: unknown;
    try {
      body = await readJson(request);
    } catch (error) {
      return reply(response, 400, { error: error instanceof Error ? error.message : String(error) });
    }
    try {
      switch (request.url) {
        case '/v1/changes':
          return reply(response, 200, await options.port.apply(body as VaultChange));
        case '/v1/claims': {
          const claim = ClaimRequest.safeParse(body);
          if (!claim.success) return reply(response, 400, { error: 'body must be {"id": "<task id>"}' });
          return reply(response, 200, await options.port.claim(claim.data.id));
        }
        case '/v1/sync':
          return reply(response, 200, await options.port.sync());
        default:
          return reply(response, 404, { error: `no such endpoint ${request.url}` });
      }
    } catch (error) {
      if (error instanceof InvalidChangeError) return reply(response, 400, { error: error.message });
      if (error instanceof FteError) {
        return reply(response, 422, {
          error: error.message,
          exitCode: error.exitCode,
          retryable: error.retryable,
        });
      }
      throw error;
    }
  }
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? 0, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${shownHost}:${address.port}`, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Error('body is not JSON');
  }
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

/** The operator's side: the same VaultPort, each call one POST to the sidecar. */
export class HttpVaultPort implements VaultPort {
  constructor(
    readonly root: string,
    readonly agent: string,
    private readonly url: string,
    private readonly token: string,
    private readonly timeoutMs = 180_000,
  ) {}

  apply(change: VaultChange): Promise<ChangeResult> {
    return this.post('/v1/changes', change) as Promise<ChangeResult>;
  }

  claim(id: string): Promise<ClaimOutcome> {
    return this.post('/v1/claims', { id }) as Promise<ClaimOutcome>;
  }

  sync(): Promise<SyncReport> {
    return this.post('/v1/sync', {}) as Promise<SyncReport>;
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new VaultPortUnavailableError(
        `the vault port at ${this.url} is unreachable: ${error instanceof Error ? error.message : error}`,
        error,
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new VaultPortUnavailableError(`the vault port answered ${response.status} with no JSON`);
    }
    if (response.ok) return parsed;
    const message = (parsed as { error?: string }).error ?? `status ${response.status}`;
    // The server's message is an InvalidChangeError's already: say "invalid vault change" once.
    if (response.status === 400) throw new InvalidChangeError(message.replace(/^invalid vault change: /, ''));
    if (response.status === 401) {
      throw new FteError(`the vault port refused the token: ${message}`, { exitCode: 78 });
    }
    if (response.status === 422) {
      const { exitCode, retryable } = parsed as { exitCode?: number; retryable?: boolean };
      throw new FteError(message, { exitCode, retryable });
    }
    throw new VaultPortUnavailableError(`the vault port failed (${response.status}): ${message}`);
  }
}
