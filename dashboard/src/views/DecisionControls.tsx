export type DecisionMode = 'review' | 'edit' | 'reject';

type Props = {
  mode: DecisionMode;
  busy: boolean;
  /** Why Approve is off (a problem, an expiry, an unreviewed change), if it is. */
  approveBlocked: boolean;
  reason: string;
  onReasonChange: (reason: string) => void;
  onApprove: () => void;
  onApproveEdited: () => void;
  onEdit: () => void;
  onReject: () => void;
  onConfirmReject: () => void;
  onCancel: () => void;
};

/** The owner's buttons: Approve / Edit / Reject, then the edit's or the rejection's own step. */
export function DecisionControls(props: Props) {
  const { mode, busy, approveBlocked } = props;
  if (mode === 'edit') {
    return (
      <div className="actions">
        <button
          type="button"
          className="primary"
          disabled={busy || approveBlocked}
          onClick={props.onApproveEdited}
          data-testid="approve-edited-button"
        >
          Approve edited
        </button>
        <button type="button" disabled={busy} onClick={props.onCancel} data-testid="cancel-edit-button">
          Cancel edit
        </button>
      </div>
    );
  }
  if (mode === 'reject') {
    return (
      <form
        className="reject-form"
        onSubmit={(event) => {
          event.preventDefault();
          props.onConfirmReject();
        }}
      >
        <label htmlFor="reject-reason">Reason for rejecting (required)</label>
        <textarea
          id="reject-reason"
          required
          rows={3}
          maxLength={2000}
          value={props.reason}
          onChange={(event) => props.onReasonChange(event.target.value)}
          data-testid="reject-reason"
        />
        <div className="actions">
          <button
            type="submit"
            className="danger"
            disabled={busy || props.reason.trim() === ''}
            data-testid="reject-confirm"
          >
            Confirm reject
          </button>
          <button type="button" disabled={busy} onClick={props.onCancel} data-testid="reject-cancel">
            Cancel
          </button>
        </div>
      </form>
    );
  }
  return (
    <div className="actions">
      <button
        type="button"
        className="primary"
        disabled={busy || approveBlocked}
        onClick={props.onApprove}
        data-testid="approve-button"
      >
        Approve
      </button>
      <button type="button" disabled={busy} onClick={props.onEdit} data-testid="edit-button">
        Edit
      </button>
      <button
        type="button"
        className="danger"
        disabled={busy}
        onClick={props.onReject}
        data-testid="reject-button"
      >
        Reject
      </button>
    </div>
  );
}
