import type { OriginalMessage as Original } from '../api/types';
import { RelativeTime } from '../components/RelativeTime';
import { revealHidden } from '../text';

/** The message the draft answers, as text. */
export function OriginalMessage({ original }: { original: Original }) {
  return (
    <section aria-labelledby="original-heading" data-testid="original-message">
      <h3 id="original-heading">Original message</h3>
      <dl className="facts">
        <dt>From</dt>
        <dd>{revealHidden(original.from) || 'unknown'}</dd>
        {original.to && (
          <>
            <dt>To</dt>
            <dd>{revealHidden(original.to)}</dd>
          </>
        )}
        <dt>Subject</dt>
        <dd>{revealHidden(original.subject) || '(no subject)'}</dd>
        <dt>Received</dt>
        <dd>
          <RelativeTime iso={original.received} fallback="unknown" />
        </dd>
      </dl>
      <pre className="text-block">{revealHidden(original.body)}</pre>
    </section>
  );
}
