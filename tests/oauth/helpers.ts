import { login, loginSettings } from '../../core/oauth/login.js';
import type { TokenFile } from '../../core/oauth/token-store.js';
import type { OAuthTestServer } from '../harness/oauth-server.js';

/** The browser's part of the code flow: GET /authorize, then follow the redirect to fte's loopback listener. */
export async function browse(url: string): Promise<{ authorize: Response; callback?: Response }> {
  const authorize = await fetch(url, { redirect: 'manual' });
  const location = authorize.headers.get('location');
  if (authorize.status !== 302 || !location) return { authorize };
  const callback = await fetch(location);
  return { authorize, callback };
}

export const CLIENT = { id: 'fte-test-client', secret: 'test-client-secret' };

/** Signs in through the real code flow against the test server and writes `out`. */
export async function signIn(
  oauth: OAuthTestServer,
  options: { user: string; out: string; side: 'cloud' | 'laptop'; scopes: string },
): Promise<TokenFile> {
  oauth.approveAs(options.user);
  const settings = loginSettings(
    {
      provider: 'custom',
      side: options.side,
      user: options.user,
      out: options.out,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
      authorizationEndpoint: oauth.authorizationEndpoint,
      tokenEndpoint: oauth.tokenEndpoint,
      deviceEndpoint: oauth.deviceEndpoint,
      scopes: options.scopes,
    },
    {},
  );
  return login(settings, {
    device: false,
    open: (url) => {
      void browse(url);
    },
    show: () => undefined,
  });
}
