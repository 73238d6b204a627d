import { useNow } from '../hooks/useNow';
import { relativeTime } from '../time';

/** "5 min ago", with the exact ISO time in the title and the `datetime` attribute. */
export function RelativeTime({ iso, fallback = 'never' }: { iso: string | undefined; fallback?: string }) {
  const now = useNow();
  if (!iso) return <span className="muted">{fallback}</span>;
  return (
    <time dateTime={iso} title={iso}>
      {relativeTime(iso, now)}
    </time>
  );
}
