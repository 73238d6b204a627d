import { useEffect, useState } from 'react';

/** The clock, ticking every `everyMs` so relative times ("5 min ago") stay true; no network involved. */
export function useNow(everyMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs]);
  return now;
}
