import type { ApprovalSummary } from '../api/types';
import { useNow } from '../hooks/useNow';
import { revealHidden } from '../text';
import { expiry } from '../time';

/** The pending approvals, soonest expiry first (the server's order); each row selects its detail. */
export function ApprovalList({
  approvals,
  selectedId,
  onSelect,
}: {
  approvals: ApprovalSummary[];
  selectedId: string | undefined;
  onSelect: (id: string) => void;
}) {
  const now = useNow();
  if (approvals.length === 0) return <p className="muted">Nothing is waiting for your approval.</p>;
  return (
    <ul className="approval-list">
      {approvals.map((approval) => {
        const expires = expiry(approval.expires, now);
        return (
          <li key={approval.id}>
            <button
              type="button"
              className="approval-row"
              aria-current={approval.id === selectedId ? 'true' : undefined}
              onClick={() => onSelect(approval.id)}
              data-testid={`approval-row-${approval.id}`}
            >
              <span className="approval-row-subject">{revealHidden(approval.subject) || '(no subject)'}</span>
              <span className="approval-row-meta">
                <span>{revealHidden(approval.action)}</span>
                {approval.to && <span>to {revealHidden(approval.to)}</span>}
              </span>
              <span className="approval-row-meta">
                <span className="mono">{revealHidden(approval.id)}</span>
                <time
                  dateTime={approval.expires}
                  title={approval.expires}
                  className={expires.urgent ? 'urgent' : ''}
                >
                  {expires.text}
                </time>
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
