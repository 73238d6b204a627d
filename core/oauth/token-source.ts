import { open, readFile, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../config.js';
import { isErrno, writeFileAtomic } from '../fsutil.js';
import { OAuthError, tokenRequest } from './token-endpoint.js';
import { readTokenFile, type TokenFile } from './token-store.js';

/**
 * Access tokens for IMAP and SMTP from a token file, refreshed shortly before they expire. One refresh at
 * a time: in this process (one promise shared by every caller) and across processes (a `<file>.lock`
 * made with O_EXCL; a lock older than 60 s is taken over). A revoked or expired refresh token is a
 * LoginRequired error with the one line the owner needs; `<file>.login-needed` records it for the
 * dashboard, the status page and `fte doctor`, and a new `fte mail login` (a changed file) clears it.
 * Tokens are never logged: nothing here passes one to a logger or into an error message.
 */

/** Refresh when less than this is left. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/** The one line shown everywhere when the owner must sign in again. */
export function loginAgainLine(user: string, detail?: string): string {
  return `mail sign-in for ${user} was revoked or has expired${detail ? ` (${detail})` : ''}: run \`fte mail login\` again`;
}

export class LoginRequired extends ConfigError {}

export type LoginNeeded = { at: string; user: string; message: string };

export const loginNeededPath = (tokenFile: string) => `${tokenFile}.login-needed`;

/** The marker left by a refused refresh, if the token file was not renewed since. */
export async function loginNeeded(tokenFile: string): Promise<LoginNeeded | undefined> {
  try {
    const marker = JSON.parse(await readFile(loginNeededPath(tokenFile), 'utf8')) as LoginNeeded;
    const file = await stat(tokenFile).catch(() => undefined);
    // A token file written after the marker is a new login.
    if (file && file.mtimeMs > Date.parse(marker.at)) return undefined;
    return typeof marker.message === 'string' ? marker : undefined;
  } catch {
    return undefined;
  }
}

/** A sign-in worked (a server accepted the token): the marker goes. */
export async function clearLoginNeeded(tokenFile: string): Promise<void> {
  await rm(loginNeededPath(tokenFile), { force: true }).catch(() => undefined);
}

export class TokenSource {
  private cached?: TokenFile;
  private cachedMtime = 0;
  private inflight?: Promise<TokenFile>;

  constructor(
    readonly path: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The token file as last read (re-read when it changed on disk: a new login). */
  private async load(): Promise<TokenFile> {
    const mtime = await stat(this.path).then(
      (s) => s.mtimeMs,
      () => -1,
    );
    if (!this.cached || mtime !== this.cachedMtime) {
      const fresh = await readTokenFile(this.path);
      // A file older than what a refresh gave us in memory (a read-only mount) is not newer information.
      if (!this.cached || mtime > this.cachedMtime || fresh.refresh_token !== this.cached.refresh_token) {
        this.cached = fresh;
      }
      this.cachedMtime = mtime;
    }
    return this.cached;
  }

  async user(): Promise<string> {
    return (await this.load()).user;
  }

  async scopes(): Promise<string[]> {
    return (await this.load()).scopes;
  }

  /** A usable access token; `force` refreshes even if the current one looks valid (the server refused it). */
  async accessToken(force = false): Promise<string> {
    const token = await this.load();
    const left = Date.parse(token.expires_at) - this.clock().getTime();
    if (!force && left > REFRESH_MARGIN_MS) return token.access_token;
    if (!this.inflight) {
      this.inflight = this.refresh(token).finally(() => {
        this.inflight = undefined;
      });
    }
    return (await this.inflight).access_token;
  }

  private async refresh(token: TokenFile): Promise<TokenFile> {
    if (!token.refresh_token) {
      const line = loginAgainLine(token.user, 'the access token expired and there is no refresh token');
      await this.markLoginNeeded(token.user, line);
      throw new LoginRequired(line);
    }
    const release = await this.lock();
    try {
      // Another process may have refreshed meanwhile.
      const onDisk = await readTokenFile(this.path).catch(() => token);
      if (
        onDisk.access_token !== token.access_token &&
        Date.parse(onDisk.expires_at) - this.clock().getTime() > REFRESH_MARGIN_MS
      ) {
        this.cached = onDisk;
        return onDisk;
      }
      let answer: Awaited<ReturnType<typeof tokenRequest>>;
      try {
        answer = await tokenRequest(token.token_endpoint, {
          grant_type: 'refresh_token',
          refresh_token: token.refresh_token,
          client_id: token.client_id,
          client_secret: token.client_secret,
        });
      } catch (error) {
        if (
          error instanceof OAuthError &&
          (error.error === 'invalid_grant' ||
            error.error === 'invalid_client' ||
            error.error === 'unauthorized_client')
        ) {
          const line = loginAgainLine(token.user, error.error);
          await this.markLoginNeeded(token.user, line);
          throw new LoginRequired(line);
        }
        throw error;
      }
      const now = this.clock();
      const next: TokenFile = {
        ...token,
        access_token: answer.access_token,
        expires_at: new Date(now.getTime() + (answer.expires_in ?? 3600) * 1000).toISOString(),
        refresh_token: answer.refresh_token ?? token.refresh_token,
        scopes: answer.scope ? answer.scope.split(/\s+/).filter(Boolean) : token.scopes,
        obtained_at: now.toISOString(),
      };
      this.cached = next;
      try {
        await writeFileAtomic(this.path, `${JSON.stringify(next, null, 2)}\n`, 0o600);
        this.cachedMtime = (await stat(this.path)).mtimeMs;
      } catch {
        // A read-only mount (a Kubernetes Secret): the new token lives in memory until the next restart.
      }
      await rm(loginNeededPath(this.path), { force: true }).catch(() => undefined);
      return next;
    } finally {
      await release();
    }
  }

  private async markLoginNeeded(user: string, message: string): Promise<void> {
    const marker: LoginNeeded = { at: this.clock().toISOString(), user, message };
    await writeFileAtomic(loginNeededPath(this.path), `${JSON.stringify(marker)}\n`, 0o600).catch(
      () => undefined,
    );
  }

  private async lock(): Promise<() => Promise<void>> {
    const path = `${this.path}.lock`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const handle = await open(path, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return () => rm(path, { force: true });
      } catch (error) {
        if (isErrno(error, 'EROFS') || isErrno(error, 'EACCES')) return async () => undefined;
        if (!isErrno(error, 'EEXIST')) throw error;
        const age = await stat(path).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        if (age > 60_000 || Date.now() > deadline) await rm(path, { force: true });
        else await sleep(50);
      }
    }
  }
}

const sources = new Map<string, TokenSource>();

/** One TokenSource per file in this process, so every user of a file shares its refresh. */
export function tokenSource(path: string): TokenSource {
  let source = sources.get(path);
  if (!source) {
    source = new TokenSource(path);
    sources.set(path, source);
  }
  return source;
}
