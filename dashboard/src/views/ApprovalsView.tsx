import { useRef, useState } from 'react';
import { useSession } from '../api/session';
import type { ApprovalSummary } from '../api/types';
import { useApi } from '../api/useApi';
import { LoadState } from '../components/LoadState';
import { ReadOnlyNotice } from '../components/ReadOnlyNotice';
import { useShortcuts } from '../hooks/useShortcuts';
import { navigate } from '../router';
import { ApprovalDetailPanel, type DecisionReport } from './ApprovalDetailPanel';
import { ApprovalList } from './ApprovalList';

/** The approvals waiting for the owner: the list (soonest expiry first) and the selected one's detail. */
export function ApprovalsView({ selectedId }: { selectedId: string | undefined }) {
  const { readOnly } = useSession();
  const approvals = useApi<ApprovalSummary[]>('/api/approvals', ['tasks']);
  const [report, setReport] = useState<DecisionReport>();
  const selectedByOwner = useRef(false);
  const list = approvals.data ?? [];

  const select = (id: string | undefined) => {
    selectedByOwner.current = true;
    if (id === undefined) navigate('approvals');
    else navigate('approvals', id);
  };
  const step = (by: 1 | -1) => {
    if (list.length === 0) return;
    const index = list.findIndex((approval) => approval.id === selectedId);
    const next = index === -1 ? (by === 1 ? 0 : list.length - 1) : index + by;
    const target = list[Math.min(Math.max(next, 0), list.length - 1)];
    if (target) select(target.id);
  };
  /** After a decision, the next request in the list (or the previous one) is the obvious next job. */
  const afterDecision = (id: string) => {
    const index = list.findIndex((approval) => approval.id === id);
    const next = list[index + 1] ?? list[index - 1];
    select(next && next.id !== id ? next.id : undefined);
  };

  useShortcuts({ j: () => step(1), k: () => step(-1) });

  return (
    <>
      <h1 tabIndex={-1}>Approvals</h1>
      {readOnly && <ReadOnlyNotice />}
      <p className="keyboard-hint" data-testid="keyboard-hint">
        Keyboard: <kbd>j</kbd>/<kbd>k</kbd> next/previous
        {!readOnly && (
          <>
            , <kbd>a</kbd> approve, <kbd>e</kbd> edit, <kbd>r</kbd> reject, <kbd>Esc</kbd> cancel edit or
            reject
          </>
        )}
        .
      </p>
      <div
        aria-live="polite"
        role="status"
        className={report ? `notice notice-${report.kind === 'success' ? 'success' : 'error'}` : 'live-empty'}
        data-testid="decision-message"
      >
        {report?.text ?? ''}
      </div>
      <LoadState loading={approvals.loading} error={approvals.error} hasData={approvals.data !== undefined} />
      {approvals.data && (
        <div className={selectedId === undefined ? 'master-detail' : 'master-detail has-selection'}>
          <section aria-label="Waiting for approval" className="master">
            <ApprovalList approvals={list} selectedId={selectedId} onSelect={select} />
          </section>
          {selectedId !== undefined && (
            <section aria-label="Selected request" className="detail">
              <button type="button" className="back-button" onClick={() => select(undefined)}>
                ← All approvals
              </button>
              <ApprovalDetailPanel
                key={selectedId}
                id={selectedId}
                readOnly={readOnly}
                focusOnLoad={selectedByOwner.current}
                onReport={setReport}
                onDecided={afterDecision}
              />
            </section>
          )}
        </div>
      )}
    </>
  );
}
