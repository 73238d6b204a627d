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
import type { ChangeEvent, ChangeTopic } from './types';

/**
 * One EventSource for the whole page. A `change` event names topics; every view that shows one of them
 * refetches. No polling: reconnecting is EventSource's own, and after a reconnect every topic counts as
 * changed (events may have been missed while the stream was down).
 */

export const ALL_TOPICS: readonly ChangeTopic[] = ['tasks', 'activity', 'overview'];

type Listener = (topics: readonly ChangeTopic[]) => void;
export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

type Live = {
  subscribe: (listener: Listener) => () => void;
  /** Tell the views a local action changed these topics (the server's event will follow). */
  invalidate: (topics: readonly ChangeTopic[]) => void;
  status: LiveStatus;
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

  useEffect(() => {
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
      setStatus('reconnecting');
    });
    source.addEventListener('change', (event) => emit(parseTopics((event as MessageEvent<string>).data)));
    return () => source.close();
  }, []);

  const subscribe = useCallback((listener: Listener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);
  const invalidate = useCallback((topics: readonly ChangeTopic[]) => {
    for (const listener of listeners.current) listener(topics);
  }, []);
  const live = useMemo<Live>(() => ({ subscribe, invalidate, status }), [subscribe, invalidate, status]);
  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

export function useLive(): Live {
  const live = useContext(LiveContext);
  if (!live) throw new Error('useLive outside LiveProvider');
  return live;
}
