/**
 * Vault text is shown as text, but some characters would still mislead the owner: bidi overrides can
 * reorder what an address or a subject appears to say, and zero-width or control characters hide (in a
 * terminal, an escape sequence can rewrite what is on screen and a carriage return can overwrite a line).
 * They are shown as visible `⟪U+202E⟫` marks instead. Line feeds and tabs stay; joiners (U+200C/U+200D)
 * stay: emoji and several scripts need them.
 */
const HIDDEN =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]/g;
/** The same, plus the carriage return: what a terminal must not be given. */
const HIDDEN_IN_TERMINAL = new RegExp(HIDDEN.source.replace('\\u000e', '\\u000d\\u000e'), 'g');

const mark = (char: string) => `⟪U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}⟫`;

export function revealHidden(text: string | undefined | null): string {
  if (text === undefined || text === null) return '';
  return text.replace(HIDDEN, mark);
}

/** revealHidden for a terminal: carriage returns are marked too. */
export function revealForTerminal(text: string): string {
  return text.replace(HIDDEN_IN_TERMINAL, mark);
}

/** One line for a terminal: line breaks become spaces, hidden characters marks. */
export function terminalLine(text: string): string {
  return revealForTerminal(text.replace(/\n+/g, ' '));
}
