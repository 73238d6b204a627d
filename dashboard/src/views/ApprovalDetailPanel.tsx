import { useEffect, useRef, useState } from 'react';
import { ApiError, apiPath, errorText, postJson } from '../api/http';
import { useLive } from '../api/live';
import { useSession } from '../api/session';
import type { ApprovalDetail, ApproveRequest, DecisionResult, RejectRequest } from '../api/types';
import { useApi } from '../api/useApi';
import { LoadState } from '../components/LoadState';
import { RelativeTime } from '../components/RelativeTime';
import { useNow } from '../hooks/useNow';
import { useShortcuts } from '../hooks/useShortcuts';
import { revealHidden } from '../text';
import { expiry } from '../time';
import { DecisionControls, type DecisionMode } from './DecisionControls';
import { EffectTable } from './EffectTable';
import { OriginalMessage } from './OriginalMessage';

export type DecisionReport = { kind: 'success' | 'error'; text: string };

type Props = {
  id: string;
  readOnly: boolean;
  focusOnLoad: boolean;
  onReport: (report: DecisionReport) => void;
  onDecided: (id: string) => void;
};

/**
 * One approval request: its effect lines first (what the signature covers), notes, the draft, then the
 * owner's decision, and the original message for context. Approve sends back `seen`, the digest of the
 * version the owner reviewed: if the request changes while open, Approve stays off until the owner says
 * they reviewed the new version (and the server refuses a stale digest anyway).
 */
export function ApprovalDetailPanel({ id, readOnly, focusOnLoad, onReport, onDecided }: Props) {
  const detail = useApi<ApprovalDetail>(apiPath('approvals', id), ['tasks']);
  const { csrf } = useSession();
  const live = useLive();
  const now = useNow();
  const [mode, setMode] = useState<DecisionMode>('review');
  const [editedBody, setEditedBody] = useState('');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [reviewedSeen, setReviewedSeen] = useState<string>();
  const heading = useRef<HTMLHeadingElement>(null);
  const editor = useRef<HTMLTextAreaElement>(null);
  const data = detail.data;

  useEffect(() => {
    if (data && reviewedSeen === undefined) {
      setReviewedSeen(data.seen);
      if (focusOnLoad) heading.current?.focus();
    }
  }, [data, reviewedSeen, focusOnLoad]);

  useEffect(() => {
    if (mode === 'edit') editor.current?.focus();
    if (mode === 'reject') document.getElementById('reject-reason')?.focus();
  }, [mode]);

  const changedSinceReview = data !== undefined && reviewedSeen !== undefined && data.seen !== reviewedSeen;
  const expired = data ? expiry(data.expires, now).expired : false;
  const approveBlocked = !data || Boolean(data.problem) || expired || changedSinceReview;

  async function decide(action: 'approve' | 'reject', body: ApproveRequest | RejectRequest) {
    if (busy || readOnly) return;
    setBusy(true);
    try {
      const result = await postJson<DecisionResult>(apiPath('approvals', id, action), body, csrf);
      onReport({ kind: 'success', text: result.message || `${id}: ${result.outcome}` });
      live.invalidate(['tasks']);
      onDecided(id);
    } catch (error) {
      onReport({ kind: 'error', text: errorText(error) });
      // 409: the request changed under the owner; show the new version.
      if (error instanceof ApiError && error.status === 409) detail.reload();
    } finally {
      setBusy(false);
    }
  }

  const approve = () => {
    if (!approveBlocked && reviewedSeen) void decide('approve', { seen: reviewedSeen });
  };
  const approveEdited = () => {
    if (!approveBlocked && reviewedSeen) void decide('approve', { seen: reviewedSeen, body: editedBody });
  };
  const startEdit = () => {
    if (!data) return;
    setEditedBody(data.draft);
    setMode('edit');
  };
  const startReject = () => setMode('reject');
  const confirmReject = () => {
    if (reason.trim() === '') {
      onReport({ kind: 'error', text: 'Say why you reject it.' });
      return;
    }
    void decide('reject', { reason: reason.trim() });
  };
  const cancel = () => setMode('review');

  useShortcuts(
    readOnly || !data
      ? {}
      : {
          a: mode === 'edit' ? approveEdited : mode === 'review' ? approve : undefined,
          e: mode === 'review' ? startEdit : undefined,
          r: mode === 'review' ? startReject : undefined,
          Escape: mode === 'review' ? undefined : cancel,
        },
  );

  if (!data) {
    if (detail.errorStatus === 404) {
      return <p className="muted">This approval is no longer waiting (decided, withdrawn or expired).</p>;
    }
    return <LoadState loading={detail.loading} error={detail.error} hasData={false} />;
  }

  const expires = expiry(data.expires, now);
  return (
    <article className="approval-detail" aria-labelledby="approval-heading" data-testid="approval-detail">
      <h2 id="approval-heading" tabIndex={-1} ref={heading}>
        {revealHidden(data.subject) || '(no subject)'}
      </h2>
      <dl className="facts">
        <dt>Request</dt>
        <dd className="mono">{revealHidden(data.id)}</dd>
        <dt>Action</dt>
        <dd>{revealHidden(data.action)}</dd>
        {data.to && (
          <>
            <dt>To</dt>
            <dd>{revealHidden(data.to)}</dd>
          </>
        )}
        <dt>Expires</dt>
        <dd>
          <time dateTime={data.expires} title={data.expires} className={expires.urgent ? 'urgent' : ''}>
            {expires.text}
          </time>
        </dd>
        {data.created && (
          <>
            <dt>Created</dt>
            <dd>
              <RelativeTime iso={data.created} />
            </dd>
          </>
        )}
      </dl>

      {data.problem && (
        <p className="notice notice-error" data-testid="approval-problem">
          Cannot be approved: {revealHidden(data.problem)}
        </p>
      )}
      {changedSinceReview && (
        <div className="notice notice-warning" data-testid="approval-changed">
          <p>This request changed while it was open. Read the effect lines and the draft again.</p>
          <button
            type="button"
            onClick={() => setReviewedSeen(data.seen)}
            data-testid="approval-reviewed-button"
          >
            I have reviewed the new version
          </button>
        </div>
      )}

      <EffectTable effect={data.effect} />

      {data.notes.length > 0 && (
        <section aria-labelledby="notes-heading">
          <h3 id="notes-heading">Notes</h3>
          <ul className="notes">
            {data.notes.map((note, index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: notes are plain lines in the server's order
              <li key={index}>{revealHidden(note)}</li>
            ))}
          </ul>
        </section>
      )}

      <section aria-labelledby="draft-heading">
        <h3 id="draft-heading">Draft</h3>
        {mode === 'edit' ? (
          <>
            <label htmlFor="draft-editor">Edited draft (approving sends this text)</label>
            <textarea
              id="draft-editor"
              ref={editor}
              className="draft-editor"
              rows={14}
              value={editedBody}
              onChange={(event) => setEditedBody(event.target.value)}
              data-testid="draft-editor"
            />
          </>
        ) : (
          <pre className="text-block" data-testid="draft-body">
            {revealHidden(data.draft)}
          </pre>
        )}
      </section>

      {!readOnly && (
        <DecisionControls
          mode={mode}
          busy={busy}
          approveBlocked={approveBlocked}
          reason={reason}
          onReasonChange={setReason}
          onApprove={approve}
          onApproveEdited={approveEdited}
          onEdit={startEdit}
          onReject={startReject}
          onConfirmReject={confirmReject}
          onCancel={cancel}
        />
      )}

      {data.original && <OriginalMessage original={data.original} />}
    </article>
  );
}
