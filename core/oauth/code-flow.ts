import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPkce, randomState } from './pkce.js';
import { OAuthError, type TokenResponse, tokenRequest } from './token-endpoint.js';

/**
 * RFC 6749 §4.1 with PKCE (RFC 7636, S256) on a loopback redirect (RFC 8252 §7.3), the way desktop mail
 * clients sign in: a listener on `http://127.0.0.1:<random port>/callback` receives the code; the answer's
 * `state` must be the one sent, else nothing is exchanged.
 */

export type CodeFlowOptions = {
  authorizationEndpoint: string;
  tokenEndpoint: string;
  clientId: string;
  clientSecret?: string;
  scopes: string[];
  extraAuthParams?: Record<string, string>;
  /** Login hint (the mailbox address). */
  loginHint?: string;
  /** Shows the URL to the owner (opens a browser, prints it). Called once the listener is up. */
  open: (url: string) => void | Promise<void>;
  timeoutMs?: number;
};

export class CodeFlowError extends Error {}

export async function authorizationCodeFlow(
  options: CodeFlowOptions,
): Promise<TokenResponse & { scopes: string[] }> {
  const pkce = createPkce();
  const state = randomState();
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const redirectUri = `http://127.0.0.1:${port}/callback`;
  try {
    const result = new Promise<string>((resolve, reject) => {
      server.on('request', (req, res) => {
        const url = new URL(req.url ?? '/', redirectUri);
        if (url.pathname !== '/callback') {
          res.writeHead(404).end();
          return;
        }
        // Settles only once the page is sent (the listener closes right after).
        const reply = (status: number, text: string, settle: () => void) => {
          res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
          res.end(text, settle);
        };
        if (url.searchParams.get('state') !== state) {
          reply(
            400,
            'fte: this answer does not belong to the sign-in fte started (state mismatch). Nothing was done.',
            () =>
              reject(
                new CodeFlowError(
                  'the authorization answer carried a wrong state: refused (nothing was exchanged)',
                ),
              ),
          );
          return;
        }
        const error = url.searchParams.get('error');
        if (error) {
          const why = url.searchParams.get('error_description');
          reply(400, `fte: the sign-in was not completed (${error}). You can close this window.`, () =>
            reject(new CodeFlowError(`the provider refused the sign-in: ${error}${why ? ` (${why})` : ''}`)),
          );
          return;
        }
        const code = url.searchParams.get('code');
        if (!code) {
          reply(400, 'fte: no code in the answer.', () =>
            reject(new CodeFlowError('the authorization answer carried no code')),
          );
          return;
        }
        reply(200, 'fte: signed in. You can close this window and return to the terminal.', () =>
          resolve(code),
        );
      });
    });
    const auth = new URL(options.authorizationEndpoint);
    const params: Record<string, string> = {
      response_type: 'code',
      client_id: options.clientId,
      redirect_uri: redirectUri,
      scope: options.scopes.join(' '),
      state,
      code_challenge: pkce.challenge,
      code_challenge_method: pkce.method,
      ...(options.loginHint ? { login_hint: options.loginHint } : {}),
      ...options.extraAuthParams,
    };
    for (const [k, v] of Object.entries(params)) auth.searchParams.set(k, v);
    await options.open(auth.toString());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new CodeFlowError('no answer from the browser in time; run `fte mail login` again')),
        options.timeoutMs ?? 5 * 60_000,
      );
    });
    let code: string;
    try {
      code = await Promise.race([result, timeout]);
    } finally {
      clearTimeout(timer);
    }
    const token = await tokenRequest(options.tokenEndpoint, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: options.clientId,
      client_secret: options.clientSecret,
      code_verifier: pkce.verifier,
    });
    return { ...token, scopes: token.scope ? token.scope.split(/\s+/).filter(Boolean) : options.scopes };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

export { OAuthError };
