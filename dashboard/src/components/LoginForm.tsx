import { type FormEvent, useState } from 'react';
import { errorText, postJson } from '../api/http';
import type { LoginRequest, SessionInfo } from '../api/types';

/**
 * The one-field sign-in: a password or a token, POSTed to /api/login (with the session's CSRF token, empty
 * before sign-in); then the session is asked again.
 */
export function LoginForm({ csrf, onSignedIn }: { csrf: string; onSignedIn: () => void }) {
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const request: LoginRequest = { secret };
      await postJson<SessionInfo>('/api/login', request, csrf);
      setSecret('');
      onSignedIn();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="login">
      <h1>Sign in to fte</h1>
      <form onSubmit={submit} data-testid="login-form">
        <label htmlFor="login-secret">Password or token</label>
        <input
          id="login-secret"
          type="password"
          autoComplete="current-password"
          required
          value={secret}
          onChange={(event) => setSecret(event.target.value)}
          data-testid="login-secret"
        />
        <button type="submit" className="primary" disabled={busy || secret === ''} data-testid="login-submit">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p aria-live="polite" className={error ? 'notice notice-error' : 'visually-hidden'}>
          {error ?? ''}
        </p>
      </form>
    </main>
  );
}
