/** A plain left-aligned text table, like `kubectl get`; empty trailing columns are dropped. */
export function formatTable(headers: string[], rows: string[][]): string {
  const used = headers.map((_, i) => i === 0 || rows.some((r) => (r[i] ?? '') !== ''));
  const cols = headers.map((_, i) => i).filter((i) => used[i]);
  const widths = cols.map((i) => Math.max(headers[i]!.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cols
      .map((i, n) => (n === cols.length - 1 ? (cells[i] ?? '') : (cells[i] ?? '').padEnd(widths[n]!)))
      .join('   ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}
