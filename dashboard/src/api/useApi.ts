import { useCallback, useEffect, useState } from 'react';
import { ApiError, errorText, getJson } from './http';
import { useLive } from './live';
import { useSessionApi } from './session';
import type { ChangeTopic } from './types';

export type ApiResult<T> = {
  data: T | undefined;
  /** The last fetch's error; `data` keeps the last good answer. */
  error: string | undefined;
  /** The HTTP status of that error (404: the item is gone). */
  errorStatus: number | undefined;
  loading: boolean;
  reload: () => void;
};

/**
 * GET one JSON resource, and again whenever a `change` event names one of `topics`. A null path fetches
 * nothing. A 401 sends the page back to the session check (and so to the login form).
 */
export function useApi<T>(
  path: string | null,
  topics: readonly ChangeTopic[],
  /** Show the previous path's data until the new one arrives (a longer list of the same thing). */
  keepWhileLoading = false,
): ApiResult<T> {
  const live = useLive();
  const session = useSessionApi();
  const [version, setVersion] = useState(0);
  const [result, setResult] = useState<{ path: string | null; data?: T; error?: string; status?: number }>({
    path,
  });
  const [loading, setLoading] = useState(path !== null);
  const reload = useCallback(() => setVersion((v) => v + 1), []);
  const topicKey = topics.join(',');

  useEffect(() => {
    const watched = topicKey.split(',');
    return live.subscribe((changed) => {
      if (changed.some((topic) => watched.includes(topic))) reload();
    });
  }, [live.subscribe, topicKey, reload]);

  useEffect(() => {
    void version;
    if (path === null) {
      setResult({ path });
      setLoading(false);
      return;
    }
    const abort = new AbortController();
    setLoading(true);
    getJson<T>(path, abort.signal).then(
      (data) => {
        setResult({ path, data });
        setLoading(false);
      },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        const status = error instanceof ApiError ? error.status : undefined;
        if (status === 401) session.refresh();
        // Keep the last good data of the same path; another path's data would be the wrong item.
        setResult((last) => ({
          path,
          data: last.path === path ? last.data : undefined,
          error: errorText(error),
          status,
        }));
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [path, version, session.refresh]);

  const current = result.path === path;
  return {
    data: current || keepWhileLoading ? result.data : undefined,
    error: current ? result.error : undefined,
    errorStatus: current ? result.status : undefined,
    loading,
    reload,
  };
}
