import { useMemo } from 'react';
import type { CostRow } from '../api/types';
import { useApi } from '../api/useApi';
import { LoadState } from '../components/LoadState';
import { TableScroller } from '../components/TableScroller';
import { type CostSummary, formatCount, formatUsd, summarizeCosts } from '../costs';
import { revealHidden } from '../text';
import { CostChart, CostLegend } from './CostChart';

/** What the models cost, per day and per model: a chart, then the figures as tables. */
export function CostsView() {
  const costs = useApi<CostRow[]>('/api/costs', ['activity']);
  const summary = useMemo(() => summarizeCosts(costs.data ?? []), [costs.data]);
  return (
    <>
      <h1 tabIndex={-1}>Costs</h1>
      <LoadState loading={costs.loading} error={costs.error} hasData={costs.data !== undefined} />
      {costs.data?.length === 0 && <p className="muted">No model calls recorded yet.</p>}
      {summary.days.length > 0 && (
        <>
          <p className="total-cost">
            Total: <strong>{formatUsd(summary.total)}</strong> over {formatCount(summary.total.calls)} calls
          </p>
          {summary.total.unknown && (
            <p className="muted" data-testid="cost-unpriced-note">
              * Some calls had no known price: these sums leave them out, so the real cost is higher.
            </p>
          )}
          <section aria-labelledby="chart-heading">
            <h2 id="chart-heading">Per day</h2>
            <CostLegend models={summary.models} />
            <TableScroller label="Cost chart">
              <CostChart summary={summary} />
            </TableScroller>
            <DayTable summary={summary} />
          </section>
          <section aria-labelledby="models-heading">
            <h2 id="models-heading">Per model</h2>
            <ModelTable summary={summary} />
          </section>
        </>
      )}
    </>
  );
}

function DayTable({ summary }: { summary: CostSummary }) {
  return (
    <TableScroller label="Cost per day">
      <table data-testid="cost-table">
        <caption>Cost per day and model (US dollars)</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            {summary.models.map((model) => (
              <th scope="col" className="num" key={model}>
                {revealHidden(model)}
              </th>
            ))}
            <th scope="col" className="num">
              Total
            </th>
          </tr>
        </thead>
        <tbody>
          {summary.days.map((day) => (
            <tr key={day} data-testid={`cost-row-${day}`}>
              <th scope="row" className="nowrap">
                {day}
              </th>
              {summary.models.map((model) => (
                <td key={model} className="num">
                  {formatUsd(summary.cell(day, model))}
                </td>
              ))}
              <td className="num">{formatUsd(summary.byDay.get(day))}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">Total</th>
            {summary.models.map((model) => (
              <td key={model} className="num">
                {formatUsd(summary.byModel.get(model))}
              </td>
            ))}
            <td className="num">
              <strong>{formatUsd(summary.total)}</strong>
            </td>
          </tr>
        </tfoot>
      </table>
    </TableScroller>
  );
}

function ModelTable({ summary }: { summary: CostSummary }) {
  return (
    <TableScroller label="Cost per model">
      <table data-testid="model-table">
        <thead>
          <tr>
            <th scope="col">Model</th>
            <th scope="col" className="num">
              Calls
            </th>
            <th scope="col" className="num">
              Input tokens
            </th>
            <th scope="col" className="num">
              Output tokens
            </th>
            <th scope="col" className="num">
              Cost
            </th>
          </tr>
        </thead>
        <tbody>
          {summary.models.map((model) => {
            const cell = summary.byModel.get(model);
            return (
              <tr key={model}>
                <th scope="row">{revealHidden(model)}</th>
                <td className="num">{formatCount(cell?.calls ?? 0)}</td>
                <td className="num">{formatCount(cell?.inputTokens ?? 0)}</td>
                <td className="num">{formatCount(cell?.outputTokens ?? 0)}</td>
                <td className="num">{formatUsd(cell)}</td>
              </tr>
            );
          })}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">Total</th>
            <td className="num">{formatCount(summary.total.calls)}</td>
            <td className="num">{formatCount(summary.total.inputTokens)}</td>
            <td className="num">{formatCount(summary.total.outputTokens)}</td>
            <td className="num">
              <strong>{formatUsd(summary.total)}</strong>
            </td>
          </tr>
        </tfoot>
      </table>
    </TableScroller>
  );
}
