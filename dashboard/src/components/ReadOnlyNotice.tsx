export function ReadOnlyNotice() {
  return (
    <p className="notice notice-info" data-testid="readonly-notice">
      Read-only: approve on your laptop.
    </p>
  );
}
