import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from 'react';
import { errorText, getJson } from './http';
import type { SessionInfo } from './types';

type SessionState =
  | { kind: 'loading' }
  | { kind: 'failed'; error: string }
  | { kind: 'ready'; session: SessionInfo };

type SessionApi = {
  state: SessionState;
  /** Ask the server again (after a login, a logout or a 401). */
  refresh: () => void;
};

const SessionContext = createContext<SessionApi | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ kind: 'loading' });
  const [version, setVersion] = useState(0);
  const refresh = useCallback(() => setVersion((v) => v + 1), []);

  useEffect(() => {
    void version;
    const abort = new AbortController();
    getJson<SessionInfo>('/api/session', abort.signal).then(
      (session) => setState({ kind: 'ready', session }),
      (error: unknown) => {
        if (!abort.signal.aborted) setState({ kind: 'failed', error: errorText(error) });
      },
    );
    return () => abort.abort();
  }, [version]);

  return <SessionContext.Provider value={{ state, refresh }}>{children}</SessionContext.Provider>;
}

export function useSessionApi(): SessionApi {
  const api = useContext(SessionContext);
  if (!api) throw new Error('useSessionApi outside SessionProvider');
  return api;
}

/** The signed-in session (only rendered once there is one). */
export function useSession(): SessionInfo {
  const { state } = useSessionApi();
  if (state.kind !== 'ready') throw new Error('useSession before the session loaded');
  return state.session;
}
