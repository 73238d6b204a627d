/** USD per million tokens, input and output, for the models we know; prefixes cover dated variants. */
const PRICES: Array<[prefix: string, input: number, output: number]> = [
  ['claude-opus-4-6', 5, 25],
  ['claude-opus-4-5', 5, 25],
  ['claude-opus-4-1', 15, 75],
  ['claude-opus-4-0', 15, 75],
  ['claude-opus-4', 15, 75],
  ['claude-sonnet-4-5', 3, 15],
  ['claude-sonnet-4', 3, 15],
  ['claude-3-7-sonnet', 3, 15],
  ['claude-haiku-4-5', 1, 5],
  ['claude-3-5-haiku', 0.8, 4],
];

export type Price = { inputPerMTok: number; outputPerMTok: number };

/**
 * The price of a model: `override` (from FTE_CLAUDE_PRICE, "input,output" USD per million tokens) wins,
 * then the table; undefined for an unknown model (its cost is recorded as null, never guessed).
 */
export function priceOf(model: string, override?: string): Price | undefined {
  if (override) {
    const [input, output] = override.split(',').map((v) => Number(v.trim()));
    if (Number.isFinite(input) && Number.isFinite(output)) {
      return { inputPerMTok: input!, outputPerMTok: output! };
    }
  }
  const row = PRICES.find(([prefix]) => model === prefix || model.startsWith(`${prefix}-`));
  return row ? { inputPerMTok: row[1], outputPerMTok: row[2] } : undefined;
}

export function costUsd(price: Price | undefined, inputTokens: number, outputTokens: number): number | null {
  if (!price) return null;
  const cost = (inputTokens * price.inputPerMTok + outputTokens * price.outputPerMTok) / 1_000_000;
  return Math.round(cost * 1e6) / 1e6;
}
