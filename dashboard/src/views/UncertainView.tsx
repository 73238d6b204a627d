import { useState } from 'react';
import { apiPath, errorText, postJson } from '../api/http';
import { useLive } from '../api/live';
import { useSession } from '../api/session';
import type { DecisionResult, ResolveRequest, UncertainSend } from '../api/types';
import { useApi } from '../api/useApi';
import { LoadState } from '../components/LoadState';
import { ReadOnlyNotice } from '../components/ReadOnlyNotice';
import { RelativeTime } from '../components/RelativeTime';
import { revealHidden } from '../text';

type Outcome = ResolveRequest['outcome'];
type Report = { kind: 'success' | 'error'; text: string };

/**
 * Sends the executor started but cannot tell finished (a crash between the send and its record). Only the
 * owner knows (the Sent folder, the recipient): they say which, after a confirm step.
 */
export function UncertainView() {
  const { readOnly } = useSession();
  const uncertain = useApi<UncertainSend[]>('/api/uncertain', ['tasks']);
  const [report, setReport] = useState<Report>();
  return (
    <>
      <h1 tabIndex={-1}>Uncertain sends</h1>
      {readOnly && <ReadOnlyNotice />}
      <p className="muted">
        The executor started these but cannot tell whether they went out. Check your Sent folder, then say
        which.
      </p>
      <div
        aria-live="polite"
        role="status"
        className={report ? `notice notice-${report.kind}` : 'live-empty'}
        data-testid="resolve-message"
      >
        {report?.text ?? ''}
      </div>
      <LoadState loading={uncertain.loading} error={uncertain.error} hasData={uncertain.data !== undefined} />
      {uncertain.data?.length === 0 && <p className="muted">No uncertain sends.</p>}
      <ul className="cards">
        {uncertain.data?.map((send) => (
          <UncertainItem key={send.id} send={send} readOnly={readOnly} onReport={setReport} />
        ))}
      </ul>
    </>
  );
}

function UncertainItem({
  send,
  readOnly,
  onReport,
}: {
  send: UncertainSend;
  readOnly: boolean;
  onReport: (report: Report) => void;
}) {
  const { csrf } = useSession();
  const live = useLive();
  const [pending, setPending] = useState<Outcome>();
  const [busy, setBusy] = useState(false);

  async function resolve(outcome: Outcome) {
    setBusy(true);
    try {
      const body: ResolveRequest = { outcome };
      const result = await postJson<DecisionResult>(apiPath('uncertain', send.id, 'resolve'), body, csrf);
      onReport({ kind: 'success', text: result.message || `${send.id}: resolved` });
      setPending(undefined);
      live.invalidate(['tasks']);
    } catch (error) {
      onReport({ kind: 'error', text: errorText(error) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <li className="card" data-testid={`uncertain-row-${send.id}`}>
      <h2 className="card-title">
        {revealHidden(send.action)}
        {send.target && <> to {revealHidden(send.target)}</>}
      </h2>
      <dl className="facts">
        <dt>Request</dt>
        <dd className="mono">{revealHidden(send.id)}</dd>
        <dt>Started</dt>
        <dd>
          <RelativeTime iso={send.since} />
        </dd>
        {send.messageId && (
          <>
            <dt>Message-ID</dt>
            <dd className="mono">{revealHidden(send.messageId)}</dd>
          </>
        )}
        <dt>Detail</dt>
        <dd>{revealHidden(send.detail)}</dd>
      </dl>
      {!readOnly && pending === undefined && (
        <div className="actions">
          <button type="button" onClick={() => setPending('sent')} data-testid={`resolve-sent-${send.id}`}>
            It was sent
          </button>
          <button
            type="button"
            onClick={() => setPending('not_sent')}
            data-testid={`resolve-not-sent-${send.id}`}
          >
            It was not sent
          </button>
        </div>
      )}
      {!readOnly && pending !== undefined && (
        <div className="confirm">
          <p>
            {pending === 'sent'
              ? 'Record that it was sent? It will not be sent again.'
              : 'Record that it was not sent? The executor sends it again (same Message-ID).'}
          </p>
          <div className="actions">
            <button
              type="button"
              className="primary"
              disabled={busy}
              onClick={() => void resolve(pending)}
              data-testid={`resolve-confirm-${send.id}`}
            >
              {pending === 'sent' ? 'Yes, it was sent' : 'Yes, it was not sent'}
            </button>
            <button
              type="button"
              disabled={busy}
              onClick={() => setPending(undefined)}
              data-testid={`resolve-cancel-${send.id}`}
            >
              Cancel
            </button>
          </div>
        </div>
      )}
    </li>
  );
}
