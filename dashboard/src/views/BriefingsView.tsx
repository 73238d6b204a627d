import type { Briefing } from '../api/types';
import { useApi } from '../api/useApi';
import { LoadState } from '../components/LoadState';
import { RelativeTime } from '../components/RelativeTime';
import { revealHidden } from '../text';

/** The cloud's briefings, newest first, each as plain pre-wrapped text (never rendered markdown). */
export function BriefingsView() {
  const briefings = useApi<Briefing[]>('/api/briefings', ['tasks', 'overview']);
  const sorted = [...(briefings.data ?? [])].sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
  return (
    <>
      <h1 tabIndex={-1}>Briefings</h1>
      <LoadState loading={briefings.loading} error={briefings.error} hasData={briefings.data !== undefined} />
      {briefings.data?.length === 0 && (
        <p className="muted" data-testid="briefings-empty">
          No briefings yet
        </p>
      )}
      {sorted.map((briefing, index) => (
        <article
          key={briefing.path}
          className="briefing"
          aria-labelledby={`briefing-${index}`}
          data-testid="briefing-item"
        >
          <h2 id={`briefing-${index}`}>{revealHidden(briefing.title) || revealHidden(briefing.path)}</h2>
          <p className="muted">
            <RelativeTime iso={briefing.created} fallback="date unknown" />
            {' · '}
            <span className="mono">{revealHidden(briefing.path)}</span>
          </p>
          <pre className="text-block">{revealHidden(briefing.body)}</pre>
        </article>
      ))}
    </>
  );
}
