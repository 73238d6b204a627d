/**
 * A small OAuth2 authorization server for tests, written from the RFCs (no library):
 * - RFC 6749 §4.1 authorization code: `GET /authorize` issues a code bound to the client, the
 *   redirect_uri, the PKCE challenge (RFC 7636, S256 only) and returns `state` unchanged; `POST /token`
 *   with `grant_type=authorization_code` checks client, redirect_uri, expiry, single use and the
 *   `code_verifier`; `grant_type=refresh_token` issues a new access token.
 * - RFC 8628 device grant: `POST /device_authorization`, approved by the test (`approveDevice`).
 * - RFC 7662 introspection: `POST /introspect` (`token=…`), what Dovecot's oauth2 passdb asks.
 * Redirect URIs: a registered loopback URI matches any port (RFC 8252 §7.3); anything else must match
 * exactly. The signed-in user is whoever the test says (`approveAs`): there is no login page.
 * Test controls: expire access tokens, revoke a user's grants, count refreshes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type OAuthClient = { id: string; secret?: string; redirectUris: string[] };

type CodeGrant = {
  client: string;
  redirectUri: string;
  challenge: string;
  user: string;
  scope: string;
  expires: number;
  used: boolean;
};
type AccessToken = { user: string; scope: string; client: string; expires: number; revoked: boolean };
type RefreshToken = { user: string; scope: string; client: string; revoked: boolean };
type DeviceGrant = {
  client: string;
  scope: string;
  userCode: string;
  user?: string;
  expires: number;
  done: boolean;
};

export type OAuthTestServer = {
  readonly url: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly deviceEndpoint: string;
  readonly introspectionUrl: string;
  /** Who "signs in" at /authorize and the device page. */
  approveAs(user: string): void;
  approveDevice(userCode: string): void;
  /** Every access token issued so far stops working now (as if its lifetime had passed). */
  expireAccessTokens(): void;
  /** The user withdrew consent: their refresh and access tokens stop working. */
  revoke(user: string): void;
  /** Lifetime of new access tokens. */
  setAccessTtl(seconds: number): void;
  readonly stats: { refreshes: number; introspections: number; codesIssued: number; tokensIssued: number };
  /** Requests refused, with the reason (for assertions). */
  readonly refusals: string[];
  close(): Promise<void>;
};

const random = () => randomBytes(24).toString('base64url');
const s256 = (v: string) => createHash('sha256').update(v, 'ascii').digest('base64url');

function redirectAllowed(client: OAuthClient, uri: string): boolean {
  let asked: URL;
  try {
    asked = new URL(uri);
  } catch {
    return false;
  }
  return client.redirectUris.some((registered) => {
    const r = new URL(registered);
    if (r.hostname === '127.0.0.1' || r.hostname === '[::1]') {
      return (
        asked.protocol === 'http:' &&
        asked.hostname === r.hostname &&
        asked.pathname === r.pathname &&
        asked.search === ''
      );
    }
    return registered === uri;
  });
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export async function startOAuthServer(options: {
  clients: OAuthClient[];
  accessTtlSeconds?: number;
}): Promise<OAuthTestServer> {
  const clients = new Map(options.clients.map((c) => [c.id, c]));
  const codes = new Map<string, CodeGrant>();
  const access = new Map<string, AccessToken>();
  const refresh = new Map<string, RefreshToken>();
  const devices = new Map<string, DeviceGrant>();
  let user = 'alice';
  let ttl = options.accessTtlSeconds ?? 3600;
  const stats = { refreshes: 0, introspections: 0, codesIssued: 0, tokensIssued: 0 };
  const refusals: string[] = [];

  const tokenError = (res: ServerResponse, error: string, why: string, status = 400) => {
    refusals.push(`${error}: ${why}`);
    json(res, status, { error, error_description: why });
  };

  const issue = (
    res: ServerResponse,
    grant: { user: string; scope: string; client: string },
    refreshToken?: string,
  ) => {
    const token = random();
    access.set(token, { ...grant, expires: Date.now() + ttl * 1000, revoked: false });
    let rt = refreshToken;
    if (!rt) {
      rt = random();
      refresh.set(rt, { ...grant, revoked: false });
    }
    stats.tokensIssued++;
    json(res, 200, {
      access_token: token,
      token_type: 'Bearer',
      expires_in: ttl,
      refresh_token: rt,
      scope: grant.scope,
    });
  };

  /** RFC 6749 §2.3.1: client_secret_post (or none for a public client). */
  const authenticateClient = (form: URLSearchParams, res: ServerResponse): OAuthClient | undefined => {
    const client = clients.get(form.get('client_id') ?? '');
    if (!client) {
      tokenError(res, 'invalid_client', 'unknown client', 401);
      return undefined;
    }
    if (client.secret !== undefined && form.get('client_secret') !== client.secret) {
      tokenError(res, 'invalid_client', 'wrong client secret', 401);
      return undefined;
    }
    return client;
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    try {
      if (req.method === 'GET' && url.pathname === '/authorize') {
        const q = url.searchParams;
        const client = clients.get(q.get('client_id') ?? '');
        const redirectUri = q.get('redirect_uri') ?? '';
        // §4.1.2.1: a bad client or redirect_uri is never redirected to.
        if (!client) {
          refusals.push('authorize: unknown client');
          res.writeHead(400).end('unknown client');
          return;
        }
        if (!redirectAllowed(client, redirectUri)) {
          refusals.push(`authorize: redirect_uri not registered: ${redirectUri}`);
          res.writeHead(400).end('redirect_uri is not registered for this client');
          return;
        }
        const back = new URL(redirectUri);
        const state = q.get('state');
        if (state !== null) back.searchParams.set('state', state);
        const challenge = q.get('code_challenge');
        if (q.get('response_type') !== 'code') back.searchParams.set('error', 'unsupported_response_type');
        else if (!challenge || q.get('code_challenge_method') !== 'S256')
          back.searchParams.set('error', 'invalid_request');
        else {
          const code = random();
          codes.set(code, {
            client: client.id,
            redirectUri,
            challenge,
            user,
            scope: q.get('scope') ?? '',
            expires: Date.now() + 60_000,
            used: false,
          });
          stats.codesIssued++;
          back.searchParams.set('code', code);
        }
        res.writeHead(302, { location: back.toString() }).end();
        return;
      }
      if (req.method === 'POST' && url.pathname === '/token') {
        const form = await formBody(req);
        const client = authenticateClient(form, res);
        if (!client) return;
        const grantType = form.get('grant_type');
        if (grantType === 'authorization_code') {
          const grant = codes.get(form.get('code') ?? '');
          if (!grant || grant.used || grant.expires < Date.now())
            return tokenError(res, 'invalid_grant', 'unknown, used or expired code');
          if (grant.client !== client.id)
            return tokenError(res, 'invalid_grant', 'code issued to another client');
          if (form.get('redirect_uri') !== grant.redirectUri)
            return tokenError(res, 'invalid_grant', 'redirect_uri differs from the authorization request');
          const verifier = form.get('code_verifier') ?? '';
          if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || s256(verifier) !== grant.challenge)
            return tokenError(res, 'invalid_grant', 'PKCE verification failed');
          grant.used = true;
          return issue(res, { user: grant.user, scope: grant.scope, client: client.id });
        }
        if (grantType === 'refresh_token') {
          const rt = form.get('refresh_token') ?? '';
          const grant = refresh.get(rt);
          if (!grant || grant.revoked || grant.client !== client.id)
            return tokenError(res, 'invalid_grant', 'refresh token revoked or unknown');
          stats.refreshes++;
          return issue(res, grant, rt);
        }
        if (grantType === 'urn:ietf:params:oauth:grant-type:device_code') {
          const grant = devices.get(form.get('device_code') ?? '');
          if (!grant || grant.client !== client.id)
            return tokenError(res, 'invalid_grant', 'unknown device code');
          if (grant.expires < Date.now()) return tokenError(res, 'expired_token', 'device code expired');
          if (grant.done) return tokenError(res, 'invalid_grant', 'device code already used');
          if (!grant.user) {
            json(res, 400, { error: 'authorization_pending' });
            return;
          }
          grant.done = true;
          return issue(res, { user: grant.user, scope: grant.scope, client: client.id });
        }
        return tokenError(res, 'unsupported_grant_type', String(grantType));
      }
      if (req.method === 'POST' && url.pathname === '/device_authorization') {
        const form = await formBody(req);
        const client = authenticateClient(form, res);
        if (!client) return;
        const deviceCode = random();
        const userCode = randomBytes(4).toString('hex').toUpperCase();
        devices.set(deviceCode, {
          client: client.id,
          scope: form.get('scope') ?? '',
          userCode,
          expires: Date.now() + 600_000,
          done: false,
        });
        json(res, 200, {
          device_code: deviceCode,
          user_code: userCode,
          verification_uri: `${base}/device`,
          expires_in: 600,
          interval: 1,
        });
        return;
      }
      if (req.method === 'POST' && url.pathname === '/introspect') {
        stats.introspections++;
        const form = await formBody(req);
        const token = access.get(form.get('token') ?? '');
        if (!token || token.revoked || token.expires < Date.now()) {
          json(res, 200, { active: false });
          return;
        }
        json(res, 200, {
          active: true,
          username: token.user,
          scope: token.scope,
          client_id: token.client,
          exp: Math.floor(token.expires / 1000),
          token_type: 'Bearer',
        });
        return;
      }
      res.writeHead(404).end();
    } catch (error) {
      res.writeHead(500).end(String(error));
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    authorizationEndpoint: `${base}/authorize`,
    tokenEndpoint: `${base}/token`,
    deviceEndpoint: `${base}/device_authorization`,
    introspectionUrl: `${base}/introspect`,
    approveAs(name) {
      user = name;
    },
    approveDevice(userCode) {
      for (const grant of devices.values()) if (grant.userCode === userCode) grant.user = user;
    },
    expireAccessTokens() {
      for (const t of access.values()) t.expires = Date.now() - 1000;
    },
    revoke(name) {
      for (const t of access.values()) if (t.user === name) t.revoked = true;
      for (const t of refresh.values()) if (t.user === name) t.revoked = true;
    },
    setAccessTtl(seconds) {
      ttl = seconds;
    },
    stats,
    refusals,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
