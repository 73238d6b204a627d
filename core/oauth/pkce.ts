import { createHash, randomBytes } from 'node:crypto';

/** RFC 7636: a code verifier (43–128 unreserved characters) and its S256 challenge. */
export type Pkce = { verifier: string; challenge: string; method: 'S256' };

/** base64url without padding (RFC 7636 appendix A). */
export function base64url(data: Buffer): string {
  return data.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function s256(verifier: string): string {
  return base64url(createHash('sha256').update(verifier, 'ascii').digest());
}

export function createPkce(): Pkce {
  const verifier = base64url(randomBytes(32)); // 43 characters
  return { verifier, challenge: s256(verifier), method: 'S256' };
}

/** A random `state` value for one authorization request. */
export function randomState(): string {
  return base64url(randomBytes(24));
}
