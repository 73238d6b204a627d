import type { CostRow } from './api/types';

/** Cost rows folded into days × models (pure; the chart and the tables read the same figures). */

export type Cell = {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  unknown: boolean;
};
export type CostSummary = {
  days: string[];
  models: string[];
  cell: (day: string, model: string) => Cell | undefined;
  byDay: Map<string, Cell>;
  byModel: Map<string, Cell>;
  total: Cell;
};

const empty = (): Cell => ({ calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, unknown: false });

function add(into: Cell, row: CostRow): void {
  into.calls += row.calls;
  into.inputTokens += row.inputTokens;
  into.outputTokens += row.outputTokens;
  if (row.costUsd === null) into.unknown = true;
  else into.costUsd += row.costUsd;
}

function bucket(map: Map<string, Cell>, key: string): Cell {
  let cell = map.get(key);
  if (!cell) {
    cell = empty();
    map.set(key, cell);
  }
  return cell;
}

export function summarizeCosts(rows: CostRow[]): CostSummary {
  const cells = new Map<string, Cell>();
  const byDay = new Map<string, Cell>();
  const byModel = new Map<string, Cell>();
  const total = empty();
  for (const row of rows) {
    add(bucket(cells, JSON.stringify([row.day, row.model])), row);
    add(bucket(byDay, row.day), row);
    add(bucket(byModel, row.model), row);
    add(total, row);
  }
  return {
    days: [...byDay.keys()].sort(),
    models: [...byModel.keys()].sort(),
    cell: (day, model) => cells.get(JSON.stringify([day, model])),
    byDay,
    byModel,
    total,
  };
}

/** `$1.23`; a trailing `*` marks a sum with unpriced calls in it (the real cost is higher). */
export function formatUsd(cell: Pick<Cell, 'costUsd' | 'unknown'> | undefined): string {
  if (!cell) return '–';
  const amount = cell.costUsd;
  const text = amount > 0 && amount < 0.01 ? `$${amount.toFixed(4)}` : `$${amount.toFixed(2)}`;
  return cell.unknown ? `${text}*` : text;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
