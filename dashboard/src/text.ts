/**
 * Vault text is shown as text (React escapes it), but some characters would still mislead the owner:
 * bidi overrides can reorder what an address or a subject appears to say, and zero-width or control
 * characters hide. They are shown as visible `⟪U+202E⟫` marks instead. Joiners (U+200C/U+200D) stay:
 * emoji and several scripts need them.
 */
const HIDDEN =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]/g;

export function revealHidden(text: string | undefined | null): string {
  if (text === undefined || text === null) return '';
  return text.replace(
    HIDDEN,
    (char) => `⟪U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}⟫`,
  );
}

/** `NeedsAction` (or `Needs_Action`) → `Needs action`. */
export function phaseLabel(phase: string): string {
  const words = phase
    .replace(/_/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
