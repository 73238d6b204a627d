/** Small helpers every benchmark shares: timing, percentiles and the printed table. */

export type Row = { what: string; result: string; target?: string };

export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, performance.now() - start];
}

export const ms = (value: number) => `${value.toFixed(value < 10 ? 1 : 0)} ms`;

export function printTable(title: string, rows: Row[]): void {
  const headers = ['what', 'result', 'target (DESIGN.md §6)'];
  const cells = rows.map((r) => [r.what, r.result, r.target ?? '']);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  process.stdout.write(`\n${title}\n${line(headers)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const c of cells) process.stdout.write(`${line(c)}\n`);
}

/** Prints a progress line on stderr so long benchmarks show they are alive. */
export function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}
