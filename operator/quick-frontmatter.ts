import { MAX_FRONTMATTER_BYTES, type MarkdownDoc, parseMarkdown } from '../core/frontmatter.js';

/**
 * A fast path for the common frontmatter shape (`key: scalar` lines only), so a cold mirror of ten
 * thousand items does not spend seconds in the full YAML parser. It accepts only lines whose meaning is
 * certain: a double-quoted string with JSON-compatible escapes, a single-quoted string, or a plain
 * scalar that YAML 1.2's core schema reads as a string. Anything else (numbers, booleans, nulls,
 * comments, lists, blocks, anchors, odd whitespace, duplicate keys) returns undefined, and the caller
 * uses the full parser, so both paths always agree. Frontmatter above MAX_FRONTMATTER_BYTES is left to
 * the full parser too, which refuses it: the limits of the one hardened parser hold on both paths.
 */
export function quickParseMarkdown(text: string): MarkdownDoc | undefined {
  if (!text.startsWith('---\n')) return undefined;
  const end = text.indexOf('\n---', 3);
  if (end < 0) return undefined;
  const after = end + 4;
  if (after < text.length && text[after] !== '\n') return undefined;
  const data: Record<string, unknown> = {};
  const block = text.slice(4, end + 1);
  if (block.length === 0 || block.includes('\u0000') || block.includes('\r')) return undefined;
  if (block.length > MAX_FRONTMATTER_BYTES / 4 && Buffer.byteLength(block) > MAX_FRONTMATTER_BYTES) {
    return undefined;
  }
  for (const line of block.split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(': ');
    if (colon <= 0) return undefined;
    const key = line.slice(0, colon);
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) || key in data) return undefined;
    const value = scalar(line.slice(colon + 2));
    if (value === undefined) return undefined;
    data[key] = value;
  }
  const rest = text.slice(after);
  if (rest.includes('\u0000')) return undefined;
  // As parseMarkdown: drop the fence's line end and at most one blank line after it.
  return { data, body: rest.replace(/^\r?\n(\r?\n)?/, '') };
}

/** parseMarkdown, through the fast path when it applies. */
export function parseMarkdownFast(text: string): MarkdownDoc {
  return quickParseMarkdown(text) ?? parseMarkdown(text);
}

const DOUBLE_QUOTED = /^"(?:[^"\\\u0000-\u001f]|\\["\\/nt])*"$/;
const SINGLE_QUOTED = /^'(?:[^'\u0000-\u001f]|'')*'$/;
/** Plain scalars YAML's core schema turns into something other than a string. */
const CORE_NON_STRING =
  /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

function scalar(raw: string): string | undefined {
  if (raw === '' || raw !== raw.trim()) return undefined;
  if (raw.startsWith('"')) return DOUBLE_QUOTED.test(raw) ? (JSON.parse(raw) as string) : undefined;
  if (raw.startsWith("'")) return SINGLE_QUOTED.test(raw) ? raw.slice(1, -1).replace(/''/g, "'") : undefined;
  // Indicators that start something other than a plain scalar, and sequences that end one early.
  if (/^[-?:,[\]{}#&*!|>%@`]/.test(raw)) return undefined;
  if (raw.includes(': ') || raw.includes(' #') || raw.endsWith(':') || /[\u0000-\u001f\t]/.test(raw)) {
    return undefined;
  }
  if (CORE_NON_STRING.test(raw)) return undefined;
  return raw;
}
