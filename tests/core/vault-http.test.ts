import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FteError } from '../../core/errors.js';
import { initVault } from '../../core/init.js';
import {
  HttpVaultPort,
  serveVaultPort,
  type VaultPortServer,
  VaultPortUnavailableError,
} from '../../core/vault/http-port.js';
import { InvalidChangeError, LocalVaultPort } from '../../core/vault/local-port.js';
import { VaultRepo } from '../../core/vault-repo.js';
import { tempDir } from '../helpers/vaults.js';

/**
 * core/vault/http-port.ts: the server's answer to each kind of request (health, token, method, body,
 * endpoint, the port's errors), where it may listen, and how the client turns each answer into a result or
 * an error. The port behind the server is a LocalVaultPort on a plain temp folder: none of these requests
 * reaches git.
 */

const TOKEN = 'test-token-0123456789abcdef';

async function withServer<T>(
  fn: (server: VaultPortServer, repo: VaultRepo) => Promise<T>,
  options: { host?: string; onError?: (error: unknown) => void; token?: string } = {},
): Promise<T> {
  const repo = new VaultRepo({ root: await tempDir(), agent: 'cloud' });
  const server = await serveVaultPort({
    port: new LocalVaultPort(repo),
    token: options.token ?? TOKEN,
    ...options,
  });
  try {
    return await fn(server, repo);
  } finally {
    await server.close();
  }
}

async function call(
  url: string,
  init: { method?: string; token?: string | null; authorization?: string; body?: string | Buffer } = {},
): Promise<{ status: number; body: unknown; type: string | null }> {
  const headers: Record<string, string> = {};
  if (init.authorization !== undefined) headers.authorization = init.authorization;
  else if (init.token !== null) headers.authorization = `Bearer ${init.token ?? TOKEN}`;
  const response = await fetch(url, { method: init.method ?? 'POST', headers, body: init.body });
  return { status: response.status, body: await response.json(), type: response.headers.get('content-type') };
}

async function failure(promise: Promise<unknown>): Promise<FteError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FteError);
  return error as FteError;
}

describe('serveVaultPort: the answers', () => {
  it('health without a token; everything else only with the exact token, by POST', async () => {
    await withServer(async ({ url }) => {
      expect(await call(`${url}/healthz`, { method: 'GET', token: null })).toEqual({
        status: 200,
        body: { ok: true },
        type: 'application/json',
      });
      const refused = {
        status: 401,
        body: { error: 'missing or wrong bearer token' },
        type: 'application/json',
      };
      expect(await call(`${url}/healthz`, { token: null })).toEqual(refused);
      expect(await call(`${url}/v1/sync`, { token: null, body: '{}' })).toEqual(refused);
      // Same length as the right header, one character off.
      expect(await call(`${url}/v1/sync`, { token: `${TOKEN.slice(0, -1)}X`, body: '{}' })).toEqual(refused);
      expect(await call(`${url}/v1/sync`, { authorization: TOKEN, body: '{}' })).toEqual(refused);
      expect(await call(`${url}/v1/sync`, { token: `${TOKEN}x`, body: '{}' })).toEqual(refused);
      expect(await call(`${url}/v1/sync`, { method: 'GET' })).toMatchObject({
        status: 405,
        body: { error: 'POST only' },
      });
      expect(await call(`${url}/healthz`, { method: 'PUT', body: '{}' })).toMatchObject({ status: 405 });
    });
  });

  it('a body that is not JSON is 400; an unknown endpoint 404', async () => {
    await withServer(async ({ url }) => {
      expect(await call(`${url}/v1/changes`, { body: 'nope' })).toEqual({
        status: 400,
        body: { error: 'body is not JSON' },
        type: 'application/json',
      });
      expect(await call(`${url}/v1/nothing`, { body: '{}' })).toEqual({
        status: 404,
        body: { error: 'no such endpoint /v1/nothing' },
        type: 'application/json',
      });
    });
  });

  it('reads a body of exactly 32 MiB and refuses one byte more', async () => {
    const limit = 32 * 1024 * 1024;
    await withServer(async ({ url }) => {
      const exact = Buffer.alloc(limit, 0x20);
      exact.write('{}', limit - 2);
      expect(await call(`${url}/v1/nothing`, { body: exact })).toMatchObject({ status: 404 });
      const over = Buffer.alloc(limit + 1, 0x20);
      over.write('{}', limit - 1);
      expect(await rawPost(`${url}/v1/nothing`, over)).toEqual({
        status: 400,
        body: { error: `body larger than ${limit} bytes` },
      });
    });
  });

  it('claims: a body without a usable id is 400; an id the port refuses is its error, 422', async () => {
    await withServer(async ({ url }, repo) => {
      const bad = {
        status: 400,
        body: { error: 'body must be {"id": "<task id>"}' },
        type: 'application/json',
      };
      expect(await call(`${url}/v1/claims`, { body: '{}' })).toEqual(bad);
      expect(await call(`${url}/v1/claims`, { body: '{"id": ""}' })).toEqual(bad);
      expect(await call(`${url}/v1/claims`, { body: '{"id": 7}' })).toEqual(bad);
      const raw = await call(`${url}/v1/claims`, { body: '{"id": "///"}' });
      expect(raw).toEqual({
        status: 422,
        body: { error: expect.stringMatching(/^invalid task id "\/\/\/"/), exitCode: 65, retryable: false },
        type: 'application/json',
      });
      const client = new HttpVaultPort(repo.root, repo.agent, url, TOKEN);
      const error = await failure(client.claim('///'));
      expect(error).not.toBeInstanceOf(InvalidChangeError);
      expect(error).not.toBeInstanceOf(VaultPortUnavailableError);
      expect(error.message).toMatch(/^invalid task id "\/\/\/"/);
      expect(error.exitCode).toBe(65);
      expect(error.retryable).toBe(false);
    });
  });

  it('syncs through the port: the clone without a remote reports local-only', async () => {
    const dir = join(await tempDir(), 'vault');
    await initVault(dir, { agent: 'cloud' });
    const repo = new VaultRepo({ root: dir, agent: 'cloud' });
    const server = await serveVaultPort({ port: new LocalVaultPort(repo), token: TOKEN });
    try {
      const report = await new HttpVaultPort(dir, 'cloud', server.url, TOKEN).sync();
      expect(report).toMatchObject({ state: 'local-only', head: expect.stringMatching(/^[0-9a-f]{40}$/) });
    } finally {
      await server.close();
    }
  });

  it('an invalid change is 400 and an InvalidChangeError on the client', async () => {
    await withServer(async ({ url }, repo) => {
      const raw = await call(`${url}/v1/changes`, {
        body: '{"message": "cloud: draft X", "operations": [{"op": "chmod"}]}',
      });
      expect(raw).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/^invalid vault change: operations\.0\.op: /) },
      });
      const client = new HttpVaultPort(repo.root, repo.agent, url, TOKEN);
      const error = await failure(client.apply({ message: 'Bad', operations: [] }));
      expect(error).toBeInstanceOf(InvalidChangeError);
      // Said once: the server's own words already start with what the client would add.
      expect(error.message).toMatch(/^invalid vault change: message: must read "<agent>: <verb> <id>"/);
      expect(error.exitCode).toBe(65);
    });
  });

  it('an unexpected error is 500 with no detail, reported to onError, and the server keeps answering', async () => {
    const seen: unknown[] = [];
    const change = {
      message: 'cloud: draft X',
      operations: [{ op: 'write', path: `${'n'.repeat(300)}.md`, content: 'x' }],
    };
    await withServer(
      async ({ url }, repo) => {
        expect(await call(`${url}/v1/changes`, { body: JSON.stringify(change) })).toEqual({
          status: 500,
          body: { error: 'internal error' },
          type: 'application/json',
        });
        expect(seen).toHaveLength(1);
        expect(seen[0]).toMatchObject({ code: 'ENAMETOOLONG' });
        const client = new HttpVaultPort(repo.root, repo.agent, url, TOKEN);
        const error = await failure(client.apply(change as never));
        expect(error).toBeInstanceOf(VaultPortUnavailableError);
        expect(error.message).toBe('the vault port failed (500): internal error');
        expect(error.retryable).toBe(true);
        expect(error.exitCode).toBe(75);
        expect(await call(`${url}/healthz`, { method: 'GET' })).toMatchObject({ status: 200 });
      },
      { onError: (error) => seen.push(error) },
    );
    // Without onError: the same answer.
    await withServer(async ({ url }) => {
      expect(await call(`${url}/v1/changes`, { body: JSON.stringify(change) })).toMatchObject({
        status: 500,
      });
    });
  });
});

describe('serveVaultPort: where it listens', () => {
  it('on any loopback address, IPv4 or IPv6, and the URL says which', async () => {
    await withServer(
      async ({ url }) => {
        expect(url).toMatch(/^http:\/\/127\.10\.20\.30:\d+$/);
        expect(await call(`${url}/healthz`, { method: 'GET' })).toMatchObject({ status: 200 });
      },
      { host: '127.10.20.30' },
    );
    await withServer(
      async ({ url }) => {
        expect(url).toMatch(/^http:\/\/\[::1\]:\d+$/);
        expect(await call(`${url}/healthz`, { method: 'GET' })).toMatchObject({ status: 200 });
      },
      { host: '::1' },
    );
    await withServer(
      async ({ url }) => {
        expect(await call(`${url}/healthz`, { method: 'GET' })).toMatchObject({ status: 200 });
      },
      { host: 'localhost' },
    );
    await withServer(async ({ url }) => {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    });
  });

  it('never on another address, and never with a token shorter than 16 characters', async () => {
    const repo = new VaultRepo({ root: await tempDir(), agent: 'cloud' });
    for (const host of [
      '0.0.0.0',
      '128.0.0.1',
      '1127.0.0.1',
      '127.0.0.1x',
      '127.0.0.a',
      'x127.0.0.1',
      '::',
      'localhost.',
      '127.0.0',
    ]) {
      const error = await failure(serveVaultPort({ port: new LocalVaultPort(repo), token: TOKEN, host }));
      expect(error.message, host).toBe(`the vault port listens on loopback only, not ${host}`);
      expect(error.exitCode).toBe(78);
    }
    const short = await failure(serveVaultPort({ port: new LocalVaultPort(repo), token: 'x'.repeat(15) }));
    expect(short.message).toBe('the vault port token must be at least 16 characters');
    expect(short.exitCode).toBe(78);
    await withServer(
      async ({ url }) => {
        expect(await call(`${url}/v1/nothing`, { token: 'y'.repeat(16), body: '{}' })).toMatchObject({
          status: 404,
        });
      },
      { token: 'y'.repeat(16) },
    );
  });

  it('on the port it is given; a port in use is an error, not a crash', async () => {
    const repo = new VaultRepo({ root: await tempDir(), agent: 'cloud' });
    const first = await serveVaultPort({ port: new LocalVaultPort(repo), token: TOKEN });
    try {
      const port = Number(new URL(first.url).port);
      const error = await serveVaultPort({
        port: new LocalVaultPort(repo),
        token: TOKEN,
        listenPort: port,
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'EADDRINUSE' });
      await first.close();
      const again = await serveVaultPort({ port: new LocalVaultPort(repo), token: TOKEN, listenPort: port });
      expect(again.url).toBe(`http://127.0.0.1:${port}`);
      await again.close();
    } finally {
      await first.close();
    }
  });
});

type Seen = { method?: string; url?: string; headers: IncomingHttpHeaders; body: string };

/** A plain loopback HTTP server standing in for a sidecar: records each request, answers with `answer`. */
async function sidecar(answer: {
  status: number;
  body: string;
}): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('HttpVaultPort: each answer', () => {
  it('POSTs each call as JSON with the bearer token to its endpoint and returns the JSON answer', async () => {
    const side = await sidecar({ status: 200, body: '{"kind":"applied","committed":true,"refused":[]}' });
    try {
      const client = new HttpVaultPort('/vault', 'cloud', side.url, TOKEN);
      expect(client.root).toBe('/vault');
      expect(client.agent).toBe('cloud');
      expect(await client.apply({ message: 'cloud: draft X', operations: [] })).toEqual({
        kind: 'applied',
        committed: true,
        refused: [],
      });
      await client.claim('E7');
      await client.sync();
      expect(
        side.seen.map((s) => [s.method, s.url, s.headers.authorization, s.headers['content-type'], s.body]),
      ).toEqual([
        [
          'POST',
          '/v1/changes',
          `Bearer ${TOKEN}`,
          'application/json',
          '{"message":"cloud: draft X","operations":[]}',
        ],
        ['POST', '/v1/claims', `Bearer ${TOKEN}`, 'application/json', '{"id":"E7"}'],
        ['POST', '/v1/sync', `Bearer ${TOKEN}`, 'application/json', '{}'],
      ]);
    } finally {
      await side.close();
    }
  });

  it('turns each error answer into its error', async () => {
    const cases: Array<[{ status: number; body: string }, (e: FteError) => void]> = [
      [
        { status: 200, body: 'hello' },
        (e) => {
          expect(e).toBeInstanceOf(VaultPortUnavailableError);
          expect(e.message).toBe('the vault port answered 200 with no JSON');
          expect([e.exitCode, e.retryable]).toEqual([75, true]);
        },
      ],
      [
        { status: 503, body: '{"error":"busy"}' },
        (e) => {
          expect(e).toBeInstanceOf(VaultPortUnavailableError);
          expect(e.message).toBe('the vault port failed (503): busy');
          expect([e.exitCode, e.retryable]).toEqual([75, true]);
        },
      ],
      [{ status: 418, body: '{}' }, (e) => expect(e.message).toBe('the vault port failed (418): status 418')],
      [
        { status: 401, body: '{}' },
        (e) => {
          expect(e).not.toBeInstanceOf(VaultPortUnavailableError);
          expect(e.message).toBe('the vault port refused the token: status 401');
          expect([e.exitCode, e.retryable]).toEqual([78, false]);
        },
      ],
      [
        { status: 400, body: '{"error":"bad"}' },
        (e) => {
          expect(e).toBeInstanceOf(InvalidChangeError);
          expect(e.message).toBe('invalid vault change: bad');
        },
      ],
      [
        { status: 422, body: '{"error":"x went wrong","exitCode":69,"retryable":true}' },
        (e) => {
          expect(e).not.toBeInstanceOf(VaultPortUnavailableError);
          expect(e).not.toBeInstanceOf(InvalidChangeError);
          expect(e.message).toBe('x went wrong');
          expect([e.exitCode, e.retryable]).toEqual([69, true]);
        },
      ],
      [
        { status: 422, body: '{}' },
        (e) => {
          expect(e.message).toBe('status 422');
          expect([e.exitCode, e.retryable]).toEqual([1, false]);
        },
      ],
    ];
    for (const [answer, check] of cases) {
      const side = await sidecar(answer);
      try {
        check(await failure(new HttpVaultPort('/vault', 'cloud', side.url, TOKEN).sync()));
      } finally {
        await side.close();
      }
    }
  });

  it('an unreachable port is a retryable VaultPortUnavailableError naming the URL', async () => {
    const side = await sidecar({ status: 200, body: '{}' });
    await side.close();
    const error = await failure(new HttpVaultPort('/vault', 'cloud', side.url, TOKEN).sync());
    expect(error).toBeInstanceOf(VaultPortUnavailableError);
    expect(error.message.startsWith(`the vault port at ${side.url} is unreachable: `)).toBe(true);
    expect(error.cause).toBeInstanceOf(Error);
    expect([error.exitCode, error.retryable]).toEqual([75, true]);
  });
});

/** POSTs `body` with node:http and reads the answer even if the server answers before reading it all. */
function rawPost(url: string, body: Buffer): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', () => undefined);
    req.end(body);
  });
}
