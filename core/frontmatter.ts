import { isAlias, isNode, isScalar, parse, parseDocument, stringify, visit } from 'yaml';
import { EXIT, FteError } from './errors.js';

/** A markdown file split into its YAML frontmatter (kept whole, unknown keys included) and its body. */
export type MarkdownDoc = { data: Record<string, unknown>; body: string };

/**
 * Why a file is not markdown with usable YAML frontmatter. The one error every frontmatter problem
 * becomes (the yaml library's own exceptions included), so a hostile file is always a data error that
 * quarantines that file, never a crash.
 */
export class FrontmatterError extends FteError {
  constructor(
    readonly problem: string,
    /** The offending text, quoted in the message so the owner can find it. */
    readonly quote?: string,
  ) {
    super(quote === undefined ? problem : `${problem}: ${JSON.stringify(quote)}`, {
      exitCode: EXIT.dataError,
    });
  }
}

/** Frontmatter larger than this is refused before any YAML parsing (a real one is a few hundred bytes). */
export const MAX_FRONTMATTER_BYTES = 256 * 1024;
/** Deepest nesting of `[`/`{` (or of compact `- - -` block entries) the parser is given. */
export const MAX_FRONTMATTER_DEPTH = 64;
/** Alias expansions allowed while converting to plain values (a "billion laughs" document needs millions). */
export const MAX_ALIAS_COUNT = 50;

const OPENING = /^\uFEFF?---[ \t]*\r?\n/;
/**
 * The closing fence: a `---` line. Lines end at `\n` or `\r` only, as in YAML: not at U+2028/U+2029, which
 * a multiline JS regex would also take for line ends, though YAML writes them unescaped inside values.
 */
const CLOSING = /(?<=^|[\n\r])---[ \t]*(?=[\r\n]|$)/;

/**
 * Parses `---\n<yaml>\n---\n<body>`; pure, never throws anything but FrontmatterError. Hardened against
 * hostile input: NUL bytes, oversized or deeply nested frontmatter, alias bombs, explicit YAML tags
 * (`!!js/function`, `!!binary`, custom `!tags`), non-scalar keys, duplicate keys and multiple documents
 * are all refused with a reason.
 */
export function parseMarkdown(text: string): MarkdownDoc {
  if (text.includes('\u0000'))
    throw new FrontmatterError('binary content (NUL bytes) is not a markdown file');
  const opening = OPENING.exec(text);
  if (!opening) {
    throw new FrontmatterError(
      'missing frontmatter: the file must start with a "---" line',
      text.split(/\r?\n/, 1)[0]?.slice(0, 120),
    );
  }
  const rest = text.slice(opening[0].length);
  const closing = CLOSING.exec(rest);
  if (!closing) throw new FrontmatterError('unterminated frontmatter: no closing "---" line');
  const yamlText = rest.slice(0, closing.index);
  // Drop the fence's line end and at most one blank line after it (stringifyMarkdown writes exactly one).
  const body = rest.slice(closing.index + closing[0].length).replace(/^\r?\n(\r?\n)?/, '');
  return { data: parseFrontmatterYaml(yamlText), body };
}

/** The YAML between the fences as a plain mapping; every failure is a FrontmatterError. */
export function parseFrontmatterYaml(yamlText: string): Record<string, unknown> {
  const bytes = Buffer.byteLength(yamlText, 'utf8');
  if (bytes > MAX_FRONTMATTER_BYTES) {
    throw new FrontmatterError(
      `frontmatter too large: ${bytes} bytes, more than the ${MAX_FRONTMATTER_BYTES} bytes allowed`,
    );
  }
  const depth = nestingDepth(yamlText);
  if (depth > MAX_FRONTMATTER_DEPTH) {
    throw new FrontmatterError(
      `frontmatter nested too deeply (more than ${MAX_FRONTMATTER_DEPTH} levels of [, { or -)`,
    );
  }
  let data: unknown;
  try {
    data = toPlain(yamlText);
  } catch (error) {
    if (error instanceof FrontmatterError) throw error;
    // The yaml library throws ReferenceError for alias bombs, RangeError for stack exhaustion, and may
    // throw anything else on input nobody tested: all of it is "this file's frontmatter is unusable".
    const message = error instanceof Error ? error.message : String(error);
    throw new FrontmatterError(`unreadable YAML in frontmatter (${message.slice(0, 120)})`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new FrontmatterError(
      'frontmatter must be a mapping of keys to values',
      yamlText.trim().slice(0, 80),
    );
  }
  return data as Record<string, unknown>;
}

function toPlain(yamlText: string): unknown {
  const doc = parseDocument(yamlText, {
    prettyErrors: false,
    uniqueKeys: true,
    // `!!binary`, `!!set`, `!!timestamp` … are YAML 1.1 extras; unresolved here, and refused below.
    resolveKnownTags: false,
  });
  const firstError = doc.errors[0];
  if (firstError) {
    throw new FrontmatterError(
      `invalid YAML in frontmatter (${firstError.code.toLowerCase()})`,
      lineAt(yamlText, firstError.pos[0]),
    );
  }
  visit(doc, {
    Node(_key, node) {
      if (isNode(node) && node.tag !== undefined && !isAlias(node)) {
        throw new FrontmatterError(
          'YAML tags are not allowed in frontmatter',
          node.range ? lineAt(yamlText, node.range[0]) : node.tag,
        );
      }
    },
    Pair(_key, pair) {
      if (!isScalar(pair.key)) {
        throw new FrontmatterError(
          'frontmatter keys must be plain names, not lists, mappings or aliases',
          isNode(pair.key) && pair.key.range ? lineAt(yamlText, pair.key.range[0]) : undefined,
        );
      }
    },
  });
  const firstWarning = doc.warnings[0];
  if (firstWarning) {
    throw new FrontmatterError(
      `invalid YAML in frontmatter (${firstWarning.code.toLowerCase()})`,
      lineAt(yamlText, firstWarning.pos[0]),
    );
  }
  return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
}

/**
 * A cheap upper bound on how deeply the YAML nests, computed without parsing: the deepest run of open
 * flow brackets (quotes are not tracked, so brackets inside strings count too, which only errs towards
 * refusing) and the longest run of compact block indicators (`- - - x`) at the start of a line.
 */
function nestingDepth(yamlText: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < yamlText.length; i++) {
    const c = yamlText.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  const compact = /^[ \t]*(?:[-?:][ \t]+){2,}/gm;
  for (let m = compact.exec(yamlText); m; m = compact.exec(yamlText)) {
    const count = m[0]
      .replace(/[ \t]+/g, ' ')
      .trim()
      .split(' ').length;
    if (count > max) max = count;
  }
  return max;
}

/** The line holding `offset`, or the last non-blank line before it (YAML reports unclosed brackets at the end). */
function lineAt(text: string, offset: number): string | undefined {
  const lines = text.split(/\r?\n/);
  let index = text.slice(0, Math.max(0, offset)).split(/\r?\n/).length - 1;
  while (index > 0 && !lines[index]?.trim()) index--;
  return lines[index]?.slice(0, 120);
}

/** Renders frontmatter and body; undefined values are left out. */
export function stringifyMarkdown(doc: MarkdownDoc): string {
  const data = Object.fromEntries(Object.entries(doc.data).filter(([, v]) => v !== undefined));
  const yaml = Object.keys(data).length === 0 ? '' : renderYaml(data);
  // One blank line after the closing fence; parseMarkdown strips exactly one, so bodies round-trip.
  return `---\n${yaml}---\n\n${doc.body}`;
}

/**
 * The yaml library writes some strings as block scalars it then reads back differently (`" \n"` becomes
 * `|+` over a blank line and loses its space): a mapping that does not read back equal is written with
 * quoted strings instead, which always round-trip.
 */
function renderYaml(data: Record<string, unknown>): string {
  const yaml = stringify(data, { lineWidth: 0 });
  // Compared as JSON: values only, whatever the objects' prototypes.
  return JSON.stringify(parse(yaml)) === JSON.stringify(data)
    ? yaml
    : stringify(data, { lineWidth: 0, blockQuote: false });
}
