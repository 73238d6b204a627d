/** What a view shows before its data arrives, or when a fetch failed (the last good data stays shown). */
export function LoadState({
  loading,
  error,
  hasData,
}: {
  loading: boolean;
  error?: string;
  hasData: boolean;
}) {
  if (error) {
    return (
      <p className="notice notice-error" role="alert">
        Could not load: {error}
      </p>
    );
  }
  if (loading && !hasData) return <p className="muted">Loading…</p>;
  return null;
}
