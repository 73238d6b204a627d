import { parseDocument, stringify } from 'yaml';

/** A markdown file split into its YAML frontmatter (kept whole, unknown keys included) and its body. */
export type MarkdownDoc = { data: Record<string, unknown>; body: string };

export class FrontmatterError extends Error {
  constructor(
    readonly problem: string,
    /** The offending text, quoted in the message so the owner can find it. */
    readonly quote?: string,
  ) {
    super(quote === undefined ? problem : `${problem}: ${JSON.stringify(quote)}`);
  }
}

const OPENING = /^\uFEFF?---[ \t]*\r?\n/;
const CLOSING = /^---[ \t]*$/m;

/** Parses `---\n<yaml>\n---\n<body>`; pure, never throws anything but FrontmatterError. */
export function parseMarkdown(text: string): MarkdownDoc {
  if (text.includes('\u0000'))
    throw new FrontmatterError('binary content (NUL bytes) is not a markdown file');
  const opening = OPENING.exec(text);
  if (!opening) {
    throw new FrontmatterError(
      'missing frontmatter: the file must start with a "---" line',
      text.split(/\r?\n/)[0],
    );
  }
  const rest = text.slice(opening[0].length);
  const closing = CLOSING.exec(rest);
  if (!closing) throw new FrontmatterError('unterminated frontmatter: no closing "---" line');
  const yamlText = rest.slice(0, closing.index);
  // Drop the fence's line end and at most one blank line after it (stringifyMarkdown writes exactly one).
  const body = rest.slice(closing.index + closing[0].length).replace(/^\r?\n(\r?\n)?/, '');
  const doc = parseDocument(yamlText, { prettyErrors: false, uniqueKeys: true });
  const firstError = doc.errors[0];
  if (firstError) {
    throw new FrontmatterError(
      `invalid YAML in frontmatter (${firstError.code.toLowerCase()})`,
      lineAt(yamlText, firstError.pos[0]),
    );
  }
  const data = doc.toJS({ maxAliasCount: 50 }) as unknown;
  if (data === null || data === undefined) return { data: {}, body };
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new FrontmatterError(
      'frontmatter must be a mapping of keys to values',
      yamlText.trim().slice(0, 80),
    );
  }
  return { data: data as Record<string, unknown>, body };
}

/** The line holding `offset`, or the last non-blank line before it (YAML reports unclosed brackets at the end). */
function lineAt(text: string, offset: number): string | undefined {
  const lines = text.split(/\r?\n/);
  let index = text.slice(0, Math.max(0, offset)).split(/\r?\n/).length - 1;
  while (index > 0 && !lines[index]?.trim()) index--;
  return lines[index];
}

/** Renders frontmatter and body; undefined values are left out. */
export function stringifyMarkdown(doc: MarkdownDoc): string {
  const data = Object.fromEntries(Object.entries(doc.data).filter(([, v]) => v !== undefined));
  const yaml = Object.keys(data).length === 0 ? '' : stringify(data, { lineWidth: 0 });
  // One blank line after the closing fence; parseMarkdown strips exactly one, so bodies round-trip.
  return `---\n${yaml}---\n\n${doc.body}`;
}
