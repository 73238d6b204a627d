/**
 * The one email address parser of both agents (DESIGN.md §5: every address comes from a stranger's mail
 * or a file the remote can write). Accepts `local@domain` and `Display Name <local@domain>`; the local
 * part is a dot-atom (no quoted strings, no comments), the domain is host names separated by dots or an
 * address literal. Anything with spaces, control characters, angle brackets or commas inside the address
 * is refused, so a value never smuggles a second recipient or a header into a message.
 */

/** RFC 5321's limit for a whole address. */
export const MAX_ADDRESS_LENGTH = 254;

const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
const LOCAL = `${ATEXT}+(?:\\.${ATEXT}+)*`;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DOMAIN = `(?:${LABEL}(?:\\.${LABEL})*\\.?|\\[[A-Za-z0-9.:]+\\])`;
const ADDR_SPEC = new RegExp(`^${LOCAL}@${DOMAIN}$`);
/** Display name (anything but angle brackets and control characters) and the address in brackets. */
const NAME_ADDR = /^([^<>\u0000-\u001f\u007f]*)<([^<>]*)>$/;

/** Whether `text` is a bare address (`local@domain`), nothing around it. */
export function isAddress(text: string): boolean {
  return text.length <= MAX_ADDRESS_LENGTH && ADDR_SPEC.test(text);
}

/**
 * The bare address in `Name <address>` or `address` (surrounding white space ignored), as written; undefined
 * when there is none or it is not a valid address. Compare case-insensitively with `.toLowerCase()`.
 */
export function parseAddress(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed.length > 1000) return undefined;
  const angled = NAME_ADDR.exec(trimmed);
  const candidate = angled ? (angled[2] ?? '').trim() : trimmed;
  return isAddress(candidate) ? candidate : undefined;
}

/**
 * The bare addresses of a comma-separated list (`a@x.com, Jane <b@y.com>`); undefined when the list is
 * empty or any entry is not an address (a list is all valid or refused, never partly sent).
 */
export function parseAddressList(text: string): string[] | undefined {
  const entries = text.split(',').map((entry) => entry.trim());
  if (entries.length === 0 || entries.length > 100) return undefined;
  const out: string[] = [];
  for (const entry of entries) {
    const address = parseAddress(entry);
    if (!address) return undefined;
    out.push(address);
  }
  return out;
}
