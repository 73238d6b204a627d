import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { initVault } from '../../core/init.js';
import { authorizationCodeFlow, CodeFlowError } from '../../core/oauth/code-flow.js';
import { deviceCodeFlow } from '../../core/oauth/device-flow.js';
import { loginSettings } from '../../core/oauth/login.js';
import { createPkce, s256 } from '../../core/oauth/pkce.js';
import { TokenSource } from '../../core/oauth/token-source.js';
import {
  assertOutsideVault,
  readTokenFile,
  TokenFileError,
  writeTokenFile,
} from '../../core/oauth/token-store.js';
import { sendCredentialsIn } from '../../operator/credentials.js';
import { type OAuthTestServer, startOAuthServer } from '../harness/oauth-server.js';
import { startFte } from '../helpers/cli.js';
import { assertBuilt, cleanEnv, fte } from '../operator/process.js';
import { browse, CLIENT } from './helpers.js';

/**
 * The authorization-code flow with PKCE on a loopback redirect, end to end against the test
 * authorization server (RFC 6749, RFC 7636); the device flow (RFC 8628); the token file; `fte mail login`
 * as a user runs it (the built CLI); the cloud's refusal of a send-capable token.
 */

let oauth: OAuthTestServer;
let dir: string;

beforeAll(async () => {
  assertBuilt();
  oauth = await startOAuthServer({
    clients: [{ id: CLIENT.id, secret: CLIENT.secret, redirectUris: ['http://127.0.0.1/callback'] }],
  });
  dir = await mkdtemp(join(tmpdir(), 'fte-oauth-flow-'));
});
afterAll(async () => {
  await oauth?.close();
});

const flow = (open: (url: string) => void) =>
  authorizationCodeFlow({
    authorizationEndpoint: oauth.authorizationEndpoint,
    tokenEndpoint: oauth.tokenEndpoint,
    clientId: CLIENT.id,
    clientSecret: CLIENT.secret,
    scopes: ['imap'],
    open,
    timeoutMs: 10_000,
  });

describe('authorization code + PKCE on a loopback redirect', () => {
  test('end to end: /authorize redirects to fte’s loopback listener, the code is exchanged with the verifier', async () => {
    oauth.approveAs('carol');
    let asked: URL | undefined;
    let page: Response | undefined;
    const token = await flow((url) => {
      asked = new URL(url);
      void browse(url).then((r) => {
        page = r.callback;
      });
    });
    expect(token.access_token).toMatch(/.{20,}/);
    expect(token.refresh_token).toBeTruthy();
    expect(token.scopes).toEqual(['imap']);
    expect(asked!.searchParams.get('code_challenge_method')).toBe('S256');
    expect(asked!.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(asked!.searchParams.get('state')).toMatch(/.{20,}/);
    expect(page?.status).toBe(200);
    // The introspection endpoint knows the token and its user.
    const answer = await fetch(oauth.introspectionUrl, {
      method: 'POST',
      body: new URLSearchParams({ token: token.access_token }),
    });
    expect(await answer.json()).toMatchObject({ active: true, username: 'carol', scope: 'imap' });
  });

  test('PKCE: the server refuses a wrong code_verifier, accepts the right one, and a code only once', async () => {
    const pkce = createPkce();
    expect(pkce.challenge).toBe(s256(pkce.verifier));
    const redirectUri = 'http://127.0.0.1:9/callback';
    const authorize = new URL(oauth.authorizationEndpoint);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: CLIENT.id,
      redirect_uri: redirectUri,
      scope: 'imap',
      state: 's1',
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
    }))
      authorize.searchParams.set(k, v);
    const answer = await fetch(authorize, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    const back = new URL(answer.headers.get('location')!);
    expect(back.searchParams.get('state')).toBe('s1');
    const code = back.searchParams.get('code')!;
    const exchange = (verifier: string, uri = redirectUri) =>
      fetch(oauth.tokenEndpoint, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: uri,
          client_id: CLIENT.id,
          client_secret: CLIENT.secret,
          code_verifier: verifier,
        }),
      });
    const wrong = await exchange(createPkce().verifier);
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({
      error: 'invalid_grant',
      error_description: 'PKCE verification failed',
    });
    const otherRedirect = await exchange(pkce.verifier, 'http://127.0.0.1:10/callback');
    expect(await otherRedirect.json()).toMatchObject({ error: 'invalid_grant' });
    const right = await exchange(pkce.verifier);
    expect(right.status).toBe(200);
    expect(await right.json()).toMatchObject({ token_type: 'Bearer', scope: 'imap' });
    expect((await exchange(pkce.verifier)).status).toBe(400);
  });

  test('state: an answer with another state is refused by fte, and nothing is exchanged', async () => {
    const issued = oauth.stats.tokensIssued;
    let shown: Promise<string> = Promise.resolve('');
    const result = flow((url) => {
      shown = (async () => {
        const authorize = await fetch(url, { redirect: 'manual' });
        const back = new URL(authorize.headers.get('location')!);
        back.searchParams.set('state', 'forged-by-someone-else');
        const page = await fetch(back);
        expect(page.status).toBe(400);
        return page.text();
      })();
    });
    await expect(result).rejects.toBeInstanceOf(CodeFlowError);
    await expect(result).rejects.toThrow(/wrong state/);
    expect(await shown).toContain('state mismatch');
    expect(oauth.stats.tokensIssued).toBe(issued);
  });

  test('a redirect_uri that is not registered is refused by the server: no redirect, no code', async () => {
    const codes = oauth.stats.codesIssued;
    for (const redirect of [
      'http://evil.test/callback',
      'http://127.0.0.1:8080/elsewhere',
      'https://127.0.0.1/callback',
    ]) {
      const url = new URL(oauth.authorizationEndpoint);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('client_id', CLIENT.id);
      url.searchParams.set('redirect_uri', redirect);
      url.searchParams.set('code_challenge', createPkce().challenge);
      url.searchParams.set('code_challenge_method', 'S256');
      const answer = await fetch(url, { redirect: 'manual' });
      expect(answer.status, redirect).toBe(400);
      expect(answer.headers.get('location')).toBeNull();
    }
    expect(oauth.stats.codesIssued).toBe(codes);
  });

  test('the device flow (RFC 8628): polls until the owner enters the code elsewhere', async () => {
    oauth.approveAs('dave');
    const token = await deviceCodeFlow({
      deviceEndpoint: oauth.deviceEndpoint,
      tokenEndpoint: oauth.tokenEndpoint,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
      scopes: ['imap'],
      show: (uri, code) => {
        expect(uri).toContain('/device');
        setTimeout(() => oauth.approveDevice(code), 1500);
      },
    });
    expect(token.access_token).toBeTruthy();
    expect(token.refresh_token).toBeTruthy();
  });
});

describe('the token file and its refresh', () => {
  test('0600, zod-validated, refused inside a vault', async () => {
    const vault = join(dir, 'vault');
    await initVault(vault, { agent: 'local' });
    const token = {
      version: 1 as const,
      provider: 'custom',
      user: 'erin',
      token_endpoint: oauth.tokenEndpoint,
      client_id: CLIENT.id,
      scopes: ['imap'],
      access_token: 'a',
      expires_at: new Date().toISOString(),
      obtained_at: new Date().toISOString(),
    };
    await expect(writeTokenFile(join(vault, 'token.json'), token)).rejects.toBeInstanceOf(TokenFileError);
    await expect(writeTokenFile(join(vault, '.fte', 'token.json'), token)).rejects.toThrow(
      /inside the vault/,
    );
    expect(() => assertOutsideVault(join(dir, 'elsewhere', 't.json'), [vault])).not.toThrow();
    expect(() => assertOutsideVault(join(dir, 't.json'), [dir])).toThrow(/inside the vault/);
    const out = join(dir, 'ok', 'token.json');
    await writeTokenFile(out, token);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    await writeFile(out, JSON.stringify({ ...token, access_token: 42 }));
    await expect(readTokenFile(out)).rejects.toThrow(/access_token/);
    await expect(readTokenFile(out)).rejects.not.toThrow(/42/);
  });

  test('concurrent users of an expiring token cause one refresh, also across two processes’ sources', async () => {
    oauth.approveAs('frank');
    const out = join(dir, 'frank.json');
    const answer = await flow((url) => void browse(url));
    await writeTokenFile(out, {
      version: 1,
      provider: 'custom',
      user: 'frank',
      token_endpoint: oauth.tokenEndpoint,
      client_id: CLIENT.id,
      client_secret: CLIENT.secret,
      scopes: answer.scopes,
      access_token: answer.access_token,
      expires_at: new Date(Date.now() + 1000).toISOString(), // inside the refresh margin
      refresh_token: answer.refresh_token,
      obtained_at: new Date().toISOString(),
    });
    const before = oauth.stats.refreshes;
    const a = new TokenSource(out);
    const b = new TokenSource(out); // as another process would hold
    const tokens = await Promise.all([a.accessToken(), a.accessToken(), b.accessToken(), a.accessToken()]);
    expect(oauth.stats.refreshes - before).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(answer.access_token);
    expect((await readTokenFile(out)).access_token).toBe(tokens[0]);
  });
});

describe('fte mail login (the built CLI)', () => {
  test('--no-browser prints the address; the browser’s visit completes the sign-in and writes the token file', async () => {
    oauth.approveAs('grace');
    const out = join(dir, 'cli', 'grace.json');
    const env = cleanEnv({
      FTE_OAUTH_CLIENT_ID: CLIENT.id,
      FTE_OAUTH_CLIENT_SECRET: CLIENT.secret,
      FTE_OAUTH_AUTHORIZATION_ENDPOINT: oauth.authorizationEndpoint,
      FTE_OAUTH_TOKEN_ENDPOINT: oauth.tokenEndpoint,
    });
    const run = startFte(
      [
        'mail',
        'login',
        '--provider',
        'custom',
        '--side',
        'cloud',
        '--scopes',
        'imap',
        '--user',
        'grace',
        '--out',
        out,
        '--no-browser',
      ],
      env,
      30_000,
    );
    let url: string | undefined;
    while (!url) {
      url = /^(http:\/\/127\.0\.0\.1:\d+\/authorize\?\S+)$/m.exec(run.output().stdout)?.[1];
      if (run.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(url, run.output().stderr).toBeTruthy();
    const { callback } = await browse(url!);
    expect(callback?.status).toBe(200);
    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('signed in as grace');
    expect(done.stdout).toContain('kubectl create secret generic');
    const token = await readTokenFile(out);
    expect(token).toMatchObject({ user: 'grace', scopes: ['imap'], client_id: CLIENT.id });
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    // No token on the terminal.
    expect(done.stdout + done.stderr).not.toContain(token.access_token);
    expect(done.stdout + done.stderr).not.toContain(token.refresh_token!);
  });

  test('the cloud side never asks for a send scope; Google (whose IMAP scope also sends) is refused for the cloud', async () => {
    const env = cleanEnv({
      FTE_OAUTH_CLIENT_ID: CLIENT.id,
      FTE_OAUTH_AUTHORIZATION_ENDPOINT: oauth.authorizationEndpoint,
      FTE_OAUTH_TOKEN_ENDPOINT: oauth.tokenEndpoint,
    });
    const custom = await fte(
      [
        'mail',
        'login',
        '--provider',
        'custom',
        '--side',
        'cloud',
        '--scopes',
        'imap smtp',
        '--user',
        'x',
        '--out',
        join(dir, 'x.json'),
      ],
      env,
    );
    expect(custom.code).toBe(78);
    expect(custom.stderr).toContain('must not ask for a send scope (smtp)');
    const google = await fte(
      [
        'mail',
        'login',
        '--provider',
        'google',
        '--side',
        'cloud',
        '--user',
        'x@gmail.com',
        '--out',
        join(dir, 'g.json'),
      ],
      cleanEnv({ FTE_OAUTH_CLIENT_ID: 'id' }),
    );
    expect(google.code).toBe(78);
    expect(google.stderr).toContain('Google has no read-only IMAP scope');
    expect(() =>
      loginSettings(
        {
          provider: 'microsoft',
          side: 'cloud',
          user: 'o@contoso.test',
          out: join(dir, 'm.json'),
          clientId: 'id',
        },
        {},
      ),
    ).not.toThrow();
    expect(
      loginSettings(
        {
          provider: 'microsoft',
          side: 'laptop',
          user: 'o@contoso.test',
          out: join(dir, 'm.json'),
          clientId: 'id',
        },
        {},
      ).scopes,
    ).toContain('https://outlook.office.com/SMTP.Send');
  });
});

describe('the cloud refuses a token whose scopes allow sending', () => {
  test('fte operator with such an IMAP_OAUTH_TOKEN_FILE (or any SMTP_OAUTH_TOKEN_FILE) exits 78 before reading anything', async () => {
    const { remoteWithClones } = await import('../helpers/vaults.js');
    const { clones } = await remoteWithClones(['cloud']);
    const vault = clones.cloud!.dir;
    const base = {
      version: 1,
      provider: 'microsoft',
      user: 'o@contoso.test',
      token_endpoint: oauth.tokenEndpoint,
      client_id: CLIENT.id,
      access_token: 'secret-access-token-value',
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
      refresh_token: 'secret-refresh-token-value',
      obtained_at: new Date().toISOString(),
    };
    const sending = join(dir, 'send-scoped.json');
    await writeFile(
      sending,
      JSON.stringify({
        ...base,
        scopes: ['https://outlook.office.com/IMAP.AccessAsUser.All', 'https://outlook.office.com/SMTP.Send'],
      }),
      { mode: 0o600 },
    );
    const reading = join(dir, 'read-only.json');
    await writeFile(
      reading,
      JSON.stringify({
        ...base,
        scopes: ['https://outlook.office.com/IMAP.AccessAsUser.All', 'offline_access'],
      }),
      { mode: 0o600 },
    );
    expect(sendCredentialsIn({ IMAP_OAUTH_TOKEN_FILE: reading })).toEqual([]);
    expect(sendCredentialsIn({ IMAP_OAUTH_TOKEN_FILE: sending })).toEqual([
      'IMAP_OAUTH_TOKEN_FILE (scopes allow sending: https://outlook.office.com/SMTP.Send)',
    ]);
    const imap = { IMAP_HOST: '127.0.0.1', IMAP_PORT: '1', IMAP_USER: 'o@contoso.test' };
    const refused = await fte(
      ['operator', '--vault', vault, '--once'],
      cleanEnv({ ...imap, IMAP_OAUTH_TOKEN_FILE: sending }),
    );
    expect(refused.code).toBe(78);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain(
      'refusing to start: send credentials are set (IMAP_OAUTH_TOKEN_FILE (scopes allow sending',
    );
    expect(refused.stderr).not.toContain('secret-');
    const smtp = await fte(
      ['operator', '--vault', vault, '--once'],
      cleanEnv({ SMTP_OAUTH_TOKEN_FILE: reading }),
    );
    expect(smtp.code).toBe(78);
    expect(smtp.stderr).toContain('SMTP_OAUTH_TOKEN_FILE');
    expect(await readFile(sending, 'utf8')).toContain('SMTP.Send');
  });
});

describe('the logger', () => {
  test('redacts OAuth secrets if one were ever passed to it', async () => {
    const { pino } = await import('pino');
    const { OAUTH_SECRET_PATHS } = await import('../../core/log.js');
    const lines: string[] = [];
    const log = pino(
      { redact: { paths: OAUTH_SECRET_PATHS, censor: '[redacted]' } },
      {
        write: (l: string) => lines.push(l),
      },
    );
    log.info(
      { access_token: 'AT-1', auth: { accessToken: 'AT-2', refresh_token: 'RT-1' }, client_secret: 'CS' },
      'x',
    );
    expect(lines.join('')).not.toMatch(/AT-1|AT-2|RT-1|CS"/);
    expect(lines.join('')).toContain('[redacted]');
  });
});

describe('the secret guard', () => {
  test('refuses a token file copied into the vault', async () => {
    const { findSecretContent } = await import('../../core/secret-guard.js');
    const text = `${JSON.stringify({ version: 1, user: 'o', access_token: 'eyJ0eXAiOiJKV1QiLCJub25jZSI6', refresh_token: 'M.C5_BL2.0.U.-Cq' }, null, 2)}\n`;
    expect(findSecretContent(text)).toMatch(/OAuth token/);
    expect(findSecretContent('The "access_token" field is described in RFC 6749.')).toBeUndefined();
  });
});
