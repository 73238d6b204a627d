import type { CostSummary } from '../costs';
import { revealHidden } from '../text';

const HEIGHT = 240;
const TOP = 16;
const BOTTOM = 36;
const LEFT = 64;
const RIGHT = 12;
const BAR = 14;
const GROUP_GAP = 14;
const MIN_PLOT_WIDTH = 640;
export const SERIES_COUNT = 8;

/** A round top for the y axis: 1, 2 or 5 times a power of ten, at least `max`. */
function niceCeiling(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

export function seriesClass(index: number): string {
  return `series-${index % SERIES_COUNT}`;
}

/**
 * Cost per day, one bar per model in each day's group, drawn as plain SVG (no chart library). The table
 * under it carries the same figures for screen readers and for copying.
 */
export function CostChart({ summary }: { summary: CostSummary }) {
  const { days, models } = summary;
  // Bars widen to fill at least MIN_PLOT_WIDTH; many days make the chart wider (its box then scrolls).
  const bar = Math.max(
    BAR,
    Math.min(40, (MIN_PLOT_WIDTH / Math.max(1, days.length) - GROUP_GAP) / Math.max(1, models.length)),
  );
  const groupWidth = Math.max(1, models.length) * bar + GROUP_GAP;
  const width = LEFT + days.length * groupWidth + RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const max = niceCeiling(
    Math.max(0, ...days.flatMap((day) => models.map((model) => summary.cell(day, model)?.costUsd ?? 0))),
  );
  const y = (value: number) => TOP + plotHeight - (value / max) * plotHeight;
  const labelEvery = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor((width - LEFT) / 48))));
  const ticks = [0, max / 2, max];

  return (
    <svg
      className="cost-chart"
      role="img"
      aria-labelledby="cost-chart-title cost-chart-desc"
      viewBox={`0 0 ${width} ${HEIGHT}`}
      width={width}
      height={HEIGHT}
      data-testid="cost-chart"
    >
      <title id="cost-chart-title">Cost per day and model (US dollars)</title>
      <desc id="cost-chart-desc">
        {`${days.length} days from ${days[0] ?? '–'} to ${days.at(-1) ?? '–'}, ${models.length} models; ` +
          `total $${summary.total.costUsd.toFixed(2)}. The table below lists every figure.`}
      </desc>
      {ticks.map((tick) => (
        <g key={tick}>
          <line className="chart-grid" x1={LEFT} x2={width - RIGHT} y1={y(tick)} y2={y(tick)} />
          <text className="chart-text" x={LEFT - 6} y={y(tick) + 4} textAnchor="end">
            {`$${tick < 1 && tick > 0 ? tick.toFixed(3) : tick.toFixed(2)}`}
          </text>
        </g>
      ))}
      {days.map((day, dayIndex) => {
        const x0 = LEFT + dayIndex * groupWidth + GROUP_GAP / 2;
        return (
          <g key={day}>
            {models.map((model, modelIndex) => {
              const cell = summary.cell(day, model);
              if (!cell) return null;
              const top = y(cell.costUsd);
              return (
                <rect
                  key={model}
                  className={seriesClass(modelIndex)}
                  x={x0 + modelIndex * bar}
                  y={top}
                  width={bar - 2}
                  height={Math.max(cell.costUsd > 0 ? 1 : 0, TOP + plotHeight - top)}
                >
                  <title>{`${day}, ${revealHidden(model)}: $${cell.costUsd.toFixed(4)}${cell.unknown ? ' (some calls unpriced)' : ''}`}</title>
                </rect>
              );
            })}
            {dayIndex % labelEvery === 0 && (
              <text
                className="chart-text"
                x={x0 + (groupWidth - GROUP_GAP) / 2}
                y={HEIGHT - 14}
                textAnchor="middle"
              >
                {day.slice(5)}
              </text>
            )}
          </g>
        );
      })}
      <line className="chart-axis" x1={LEFT} x2={width - RIGHT} y1={TOP + plotHeight} y2={TOP + plotHeight} />
    </svg>
  );
}

/** Which color is which model. */
export function CostLegend({ models }: { models: string[] }) {
  return (
    <ul className="legend" aria-label="Models">
      {models.map((model, index) => (
        <li key={model}>
          <svg width="14" height="14" aria-hidden="true" focusable="false">
            <rect className={seriesClass(index)} width="14" height="14" rx="2" />
          </svg>
          {revealHidden(model)}
        </li>
      ))}
    </ul>
  );
}
