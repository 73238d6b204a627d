import { setTimeout as sleep } from 'node:timers/promises';
import {
  OAuthError,
  postForm,
  type TokenResponse,
  TokenResponse as TokenResponseSchema,
} from './token-endpoint.js';

/**
 * RFC 8628 device authorization grant, for a machine without a browser (the VM): the owner opens the
 * verification URL on any device and types the code; this polls the token endpoint meanwhile.
 */
export type DeviceFlowOptions = {
  deviceEndpoint: string;
  tokenEndpoint: string;
  clientId: string;
  clientSecret?: string;
  scopes: string[];
  /** Shows the URL and the code to the owner. */
  show: (verificationUri: string, userCode: string, complete?: string) => void;
  timeoutMs?: number;
};

export async function deviceCodeFlow(
  options: DeviceFlowOptions,
): Promise<TokenResponse & { scopes: string[] }> {
  const start = await postForm(options.deviceEndpoint, {
    client_id: options.clientId,
    client_secret: options.clientSecret,
    scope: options.scopes.join(' '),
  });
  const deviceCode = String(start.device_code ?? '');
  const userCode = String(start.user_code ?? '');
  // Microsoft's v2 endpoint says verification_uri; Google's says verification_url.
  const uri = String(start.verification_uri ?? start.verification_url ?? '');
  if (!deviceCode || !userCode || !uri)
    throw new OAuthError('invalid_response', 'the device endpoint answered without a code', 200);
  options.show(
    uri,
    userCode,
    typeof start.verification_uri_complete === 'string' ? start.verification_uri_complete : undefined,
  );
  let interval = Math.max(1, Number(start.interval ?? 5)) * 1000;
  const deadline =
    Date.now() + Math.min(options.timeoutMs ?? 15 * 60_000, Number(start.expires_in ?? 900) * 1000);
  while (Date.now() < deadline) {
    await sleep(interval);
    try {
      const json = await postForm(options.tokenEndpoint, {
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: deviceCode,
        client_id: options.clientId,
        client_secret: options.clientSecret,
      });
      const token = TokenResponseSchema.parse(json);
      return { ...token, scopes: token.scope ? token.scope.split(/\s+/).filter(Boolean) : options.scopes };
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      if (error.error === 'authorization_pending') continue;
      if (error.error === 'slow_down') {
        interval += 5000;
        continue;
      }
      throw error;
    }
  }
  throw new OAuthError(
    'expired_token',
    'the code was not entered in time; run `fte mail login --device` again',
    400,
  );
}
