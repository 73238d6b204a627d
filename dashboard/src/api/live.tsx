import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import { useSessionApi } from './session';
import type { ChangeEvent, ChangeTopic } from './types';

/**
 * One EventSource for the whole page. A `change` event names topics; every view that shows one of them
 * refetches. No polling: reconnecting is EventSource's own, and after a reconnect every topic counts as
 * changed (events may have been missed while the stream was down). A stream the server refused stays
 * closed until the owner presses Reconnect.
 */

export const ALL_TOPICS: readonly ChangeTopic[] = ['tasks', 'activity', 'overview'];

type Listener = (topics: readonly ChangeTopic[]) => void;
/** `stopped`: the server refused the stream (an HTTP error): EventSource does not retry that by itself. */
export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'stopped';

type Live = {
  subscribe: (listener: Listener) => () => void;
  /** Tell the views a local action changed these topics (the server's event will follow). */
  invalidate: (topics: readonly ChangeTopic[]) => void;
  status: LiveStatus;
  /** Open the stream again after it stopped (the owner's button; never automatic). */
  reconnect: () => void;
};

const LiveContext = createContext<Live | null>(null);

function parseTopics(data: string): ChangeTopic[] {
  try {
    const event = JSON.parse(data) as Partial<ChangeEvent>;
    if (!Array.isArray(event.topics)) return [...ALL_TOPICS];
    return event.topics.filter((topic): topic is ChangeTopic => ALL_TOPICS.includes(topic));
  } catch {
    return [...ALL_TOPICS];
  }
}

export function LiveProvider({ children }: { children: ReactNode }) {
  const listeners = useRef(new Set<Listener>());
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [generation, setGeneration] = useState(0);
  const { refresh: refreshSession } = useSessionApi();

  useEffect(() => {
    void generation;
    const emit = (topics: readonly ChangeTopic[]) => {
      for (const listener of listeners.current) listener(topics);
    };
    const source = new EventSource('/api/events');
    let dropped = false;
    source.addEventListener('open', () => {
      setStatus('live');
      if (dropped) emit(ALL_TOPICS);
      dropped = false;
    });
    source.addEventListener('error', () => {
      dropped = true;
      if (source.readyState === EventSource.CLOSED) {
        setStatus('stopped');
        // Most likely the session ended (a server restart): the session check shows the login if so.
        refreshSession();
      } else {
        setStatus('reconnecting');
      }
    });
    source.addEventListener('change', (event) => emit(parseTopics((event as MessageEvent<string>).data)));
    return () => source.close();
  }, [generation, refreshSession]);

  const subscribe = useCallback((listener: Listener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);
  const invalidate = useCallback((topics: readonly ChangeTopic[]) => {
    for (const listener of listeners.current) listener(topics);
  }, []);
  const reconnect = useCallback(() => {
    setStatus('connecting');
    setGeneration((g) => g + 1);
    invalidate(ALL_TOPICS);
  }, [invalidate]);
  const live = useMemo<Live>(
    () => ({ subscribe, invalidate, status, reconnect }),
    [subscribe, invalidate, status, reconnect],
  );
  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

export function useLive(): Live {
  const live = useContext(LiveContext);
  if (!live) throw new Error('useLive outside LiveProvider');
  return live;
}
