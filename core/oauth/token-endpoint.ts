import { z } from 'zod';

/** An RFC 6749 §5.1 token response (only what fte uses). */
export const TokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().positive().optional(),
  refresh_token: z.string().min(1).optional(),
  scope: z.string().optional(),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

/** The server said no (RFC 6749 §5.2): `error` is e.g. `invalid_grant`. Never carries a token. */
export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string | undefined,
    readonly status: number,
  ) {
    super(`${error}${description ? `: ${description}` : ''} (HTTP ${status})`);
  }
}

/** POSTs a form to a token (or device) endpoint and returns the JSON answer, or throws OAuthError. */
export async function postForm(
  url: string,
  form: Record<string, string | undefined>,
  timeoutMs = 30_000,
): Promise<Record<string, unknown>> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) if (v !== undefined) body.set(k, v);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  if (!response.ok || typeof json.error === 'string') {
    const error = typeof json.error === 'string' ? json.error : `http_${response.status}`;
    const description = typeof json.error_description === 'string' ? json.error_description : undefined;
    throw new OAuthError(error, description, response.status);
  }
  return json;
}

export async function tokenRequest(
  url: string,
  form: Record<string, string | undefined>,
): Promise<TokenResponse> {
  const json = await postForm(url, form);
  const parsed = TokenResponse.safeParse(json);
  if (!parsed.success)
    throw new OAuthError('invalid_response', 'the token endpoint answered without an access token', 200);
  return parsed.data;
}
