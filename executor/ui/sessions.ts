import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { SESSION_COOKIE } from '../../core/ui-api.js';

/**
 * The status page's sessions: an HttpOnly, SameSite=Strict cookie naming a random session id, and a
 * CSRF token per session that every POST must echo in a header. With no password or token configured
 * (loopback only, checked at start) every session is signed in; otherwise `login` checks the secret
 * against the bcrypt hash or the token, with a global throttle on failures. In memory: a restart signs
 * everybody out.
 */

export type Session = { id: string; csrf: string; authenticated: boolean; lastSeen: number };

export type Credentials = { passwordHash?: string; token?: string };

const IDLE_MS = 12 * 3_600_000;
const MAX_SESSIONS = 1_000;
const FAILURES_PER_MINUTE = 5;

const random = () => randomBytes(32).toString('base64url');
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Constant-time comparison of two strings of any length. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export class Sessions {
  private readonly sessions = new Map<string, Session>();
  private failures: number[] = [];

  constructor(
    private readonly credentials: Credentials,
    private readonly clock: () => number = Date.now,
  ) {}

  get authRequired(): boolean {
    return Boolean(this.credentials.passwordHash || this.credentials.token);
  }

  /** The session a request's cookie names, if it is alive. */
  find(cookieHeader: string | undefined): Session | undefined {
    const id = readCookie(cookieHeader, SESSION_COOKIE);
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const now = this.clock();
    if (now - session.lastSeen > IDLE_MS) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeen = now;
    return session;
  }

  create(): Session {
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = [...this.sessions.values()].sort((a, b) => a.lastSeen - b.lastSeen)[0];
      if (oldest) this.sessions.delete(oldest.id);
    }
    const session = {
      id: random(),
      csrf: random(),
      authenticated: !this.authRequired,
      lastSeen: this.clock(),
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /**
   * Checks a password or token. Success replaces the session (a new id: no fixation); failure counts
   * towards the throttle. `throttled` when too many failures came in the last minute.
   */
  async login(session: Session, secret: string): Promise<'ok' | 'wrong' | 'throttled'> {
    const now = this.clock();
    this.failures = this.failures.filter((t) => now - t < 60_000);
    if (this.failures.length >= FAILURES_PER_MINUTE) return 'throttled';
    const { token, passwordHash } = this.credentials;
    const ok =
      (token !== undefined && sameSecret(secret, token)) ||
      (passwordHash !== undefined && (await bcrypt.compare(secret, passwordHash)));
    if (!ok) {
      this.failures.push(now);
      return 'wrong';
    }
    this.sessions.delete(session.id);
    return 'ok';
  }

  /** A fresh signed-in session (after `login` said ok). */
  signedIn(): Session {
    const session = this.create();
    session.authenticated = true;
    return session;
  }

  end(session: Session): void {
    this.sessions.delete(session.id);
  }
}

export function sessionCookie(session: Session, secure: boolean): string {
  return `${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A bcrypt hash of a password, for FTE_UI_PASSWORD_HASH (`fte ui hash-password`). */
export function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, 12);
}
