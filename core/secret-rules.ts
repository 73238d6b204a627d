/**
 * fte's own content rules: what the maintained rule set (secretlint's recommended preset, see
 * `secretlint-rules.ts` and docs/adr/0006-secret-guard.md) does not catch, or catches only in a form
 * narrower than a vault file holds. Each is here for a reason:
 *
 * - `private-key`: secretlint reports a PEM key only as a whole block (BEGIN, ≥ 100 base64 chars, END)
 *   starting at a line start; a key indented in YAML, quoted in markdown (`> `), cut short or escaped in
 *   JSON passes it. Any `BEGIN … PRIVATE KEY` header is refused here.
 * - `pem-key-body`: a key pasted without its header: 2 consecutive lines of exactly 64 (PEM, RFC 7468)
 *   or 70 (OpenSSH) base64 characters and a third base64 line. MIME attachments use 76-column lines, so
 *   raw mail does not match.
 * - `anthropic-api-key`, `openai-style-api-key`: secretlint matches only the exact current formats; these
 *   keep fte's looser patterns (older and truncated keys, other vendors' `sk-…` keys).
 * - `google-api-key` (`AIza…`): not in the preset.
 * - `oauth-token`: a token file of `fte mail login` (JSON `access_token`/`refresh_token` fields) copied
 *   into the vault; tokens live outside it (core/oauth/token-store.ts).
 * - `env-secret-assignment`, `yaml-secret-assignment`: `SMTP_PASSWORD=…` and `password: …` lines; the
 *   preset only knows AWS's variable names.
 * - `long-hex`, `long-base64`: random keys with no vendor prefix (fte's own approval key is 64 hex
 *   digits). Heuristic, so they skip what fte writes itself (see `HASH_KEY_BEFORE`) and raw mail headers.
 *
 * Every rule is pure and synchronous; `findFteSecret` returns the first of a stage that matches.
 */

export type RuleHit = { rule: string; description: string };

/** `note`: any vault file. `raw-mail`: an RFC 5322 message as received (`.orig`, `.eml`). */
export type TextFormat = 'note' | 'raw-mail';

/** `pattern`: a known shape, checked before the vendor rules. `random`: a heuristic, checked after them. */
type Stage = 'pattern' | 'random';

type ContentRule = RuleHit & { stage?: Stage; matches: (text: string) => boolean; formats?: TextFormat[] };

const regexRule = (rule: string, description: string, pattern: RegExp): ContentRule => ({
  rule,
  description,
  matches: (text) => pattern.test(text),
});

/** A line's leading decoration: indentation, markdown quotes and list marks, YAML sequence dashes. */
const LEAD = String.raw`^[ \t>*-]*`;

const PEM_LINE = String.raw`[ \t>]*(?:[A-Za-z0-9+/]{70}|[A-Za-z0-9+/]{64})[ \t]*\r?`;
const PEM_LAST_LINE = String.raw`[ \t>]*[A-Za-z0-9+/]{4,70}={0,2}[ \t]*\r?`;
/** Two full key lines and a third (full or the body's last, shorter one): an EC P-256 key has just that. */
const PEM_BODY = new RegExp(String.raw`^${PEM_LINE}\n${PEM_LINE}\n${PEM_LAST_LINE}$`, 'gm');

function hasPemBody(text: string): boolean {
  for (const match of text.matchAll(PEM_BODY)) {
    // Three SHA-256 sums on their own lines are 64 hex digits each, not a key.
    if (/[g-zG-Z+/]/.test(match[0])) return true;
  }
  return false;
}

const ENV_ASSIGNMENT =
  /^[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_]*(?:PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS?)[A-Za-z0-9_]*[ \t]*=[ \t]*['"]?[^\s'"#$<{%]\S{3,}/im;

const YAML_KEY =
  '[A-Za-z0-9_.-]*(?:password|passwd|passphrase|secret|api[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|bearer[_-]?token|private[_-]?key|token)';
const YAML_ASSIGNMENT = new RegExp(
  String.raw`${LEAD}["']?${YAML_KEY}["']?[ \t]*:[ \t]*["']?([^\s'"#]{6,})["']?[ \t]*,?[ \t]*(?:#.*)?\r?$`,
  'gmi',
);

/** A value that names a secret instead of holding one: a variable, a template, a mask, a YAML word. */
function isPlaceholder(value: string): boolean {
  return (
    /^[$<{%!]/.test(value) ||
    /^(?:true|false|null|none|required|optional|changeme|redacted)$/i.test(value) ||
    /^(.)\1*$/.test(value)
  );
}

function hasYamlSecret(text: string): boolean {
  for (const match of text.matchAll(YAML_ASSIGNMENT)) {
    if (!isPlaceholder(match[1]!)) return true;
  }
  return false;
}

/**
 * Keys whose long hex is a digest, not a secret: everything fte writes (`content_sha256`,
 * `original_content_sha256`, `approval_signature: hmac-sha256:…`, the same in audit JSON) and the usual
 * `*sha*`, `*hash*`, `*digest*`, `*checksum*`, `*fingerprint*` names, right before the value on its line
 * (`key: `, `"key":"`, `KEY=`, `sha256:`). The trade-off: a secret pasted into such a field passes this
 * rule (the vendor rules and the known-secret rule still apply there); see docs/adr/0006-secret-guard.md.
 */
const HASH_KEY_BEFORE =
  /(?:sha\d*|md5|hash|digest|checksum|signature|fingerprint|etag|idempotency[_-]?key)[A-Za-z0-9_.-]*["']?[ \t]*[:=][ \t]*["']?(?:hmac-sha\d+:)?$/i;
const LONG_HEX = /^(?:[0-9a-f]{48,}|[0-9A-F]{48,})$/;

/** A lookup table of the characters of `ranges` (e.g. `'AZaz09'`) plus `extra`. */
function charClass(ranges: string, extra = ''): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < ranges.length; i += 2) {
    for (let c = ranges.charCodeAt(i); c <= ranges.charCodeAt(i + 1); c++) table[c] = 1;
  }
  for (const c of extra) table[c.charCodeAt(0)] = 1;
  return table;
}
const ALNUM = charClass('AZaz09');
const BASE64_CHARS = charClass('AZaz09', '+/_=-');

/**
 * The maximal runs of `table`'s characters at least `min` long, as [start, end). A plain loop: a regex
 * such as /[…]{40,}/g restarts inside every word and costs several times more on prose.
 */
function runs(text: string, table: Uint8Array, min: number): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  const length = text.length;
  let i = 0;
  while (i < length) {
    let c = text.charCodeAt(i);
    if (c >= 128 || table[c] !== 1) {
      i++;
      continue;
    }
    const start = i;
    do {
      i++;
      c = text.charCodeAt(i);
    } while (i < length && c < 128 && table[c] === 1);
    if (i - start >= min) found.push([start, i]);
  }
  return found;
}

/** The part of `index`'s line before it. */
function lineBefore(text: string, index: number): string {
  return text.slice(text.lastIndexOf('\n', index - 1) + 1, index);
}

/** A link: tracking and CDN URLs carry long tokens that are not the reader's secrets. */
function isInUrl(text: string, start: number, end: number): boolean {
  const word = wordAround(text, start, end);
  return word.includes('://') || word.startsWith('www.');
}

function hasLongHex(text: string): boolean {
  for (const [start, end] of runs(text, ALNUM, 48)) {
    const hex = text.slice(start, end);
    if (!LONG_HEX.test(hex) || !/[0-9]/.test(hex) || !/[a-fA-F]/.test(hex)) continue;
    if (text[end] === '@') continue; // a Message-ID's local part
    if (HASH_KEY_BEFORE.test(lineBefore(text, start))) continue;
    if (isInUrl(text, start, end)) continue;
    return true;
  }
  return false;
}

/** Shannon entropy in bits per character. */
export function entropy(text: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let bits = 0;
  for (const n of counts.values()) bits -= (n / text.length) * Math.log2(n / text.length);
  return bits;
}

const MIN_BASE64 = 40;
/** Random base64 of 40+ characters scores about 4.8 to 5.3; prose, paths and hex stay below 4.2. */
const MIN_BASE64_ENTROPY = 4.3;

function looksRandomBase64(piece: string): boolean {
  const bare = piece.replace(/=+$/, '');
  return (
    bare.length >= MIN_BASE64 &&
    /[a-z]/.test(bare) &&
    /[A-Z]/.test(bare) &&
    /[0-9]/.test(bare) &&
    entropy(bare) >= MIN_BASE64_ENTROPY
  );
}

/** The whitespace-delimited word around `[start, end)`. */
function wordAround(text: string, start: number, end: number): string {
  const isSpace = (i: number) => {
    const c = text.charCodeAt(i);
    return c === 32 || (c >= 9 && c <= 13);
  };
  let from = start;
  while (from > 0 && !isSpace(from - 1)) from--;
  let to = end;
  while (to < text.length && !isSpace(to)) to++;
  return text.slice(from, to);
}

function hasLongBase64(text: string): boolean {
  for (const [start, end] of runs(text, BASE64_CHARS, MIN_BASE64)) {
    const run = text.slice(start, end);
    // A Message-ID's local part (`<CAF…@mail.gmail.com>`), or a link.
    if (text[end] === '@' || text[start - 1] === '@') continue;
    if (isInUrl(text, start, end)) continue;
    // `key=value` and base64 padding split a run; a run mixing both alphabets (a path) splits on `_-`.
    for (const part of run.split(/=+(?=[^=])/)) {
      const pieces = /[+/]/.test(part) && /[_-]/.test(part) ? part.split(/[_-]+/) : [part];
      if (pieces.some(looksRandomBase64)) return true;
    }
  }
  return false;
}

const RULES: ContentRule[] = [
  regexRule(
    'private-key',
    'a private key block',
    /-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-\d/,
  ),
  {
    rule: 'pem-key-body',
    description: 'a PEM key body (base64 key lines without a header)',
    matches: hasPemBody,
  },
  regexRule('anthropic-api-key', 'an Anthropic API key (sk-ant-…)', /\bsk-ant-[A-Za-z0-9_-]{16,}/),
  regexRule('openai-style-api-key', 'an OpenAI-style API key (sk-…)', /\bsk-(?:proj-)?[A-Za-z0-9]{32,}/),
  regexRule('google-api-key', 'a Google API key (AIza…)', /\bAIza[0-9A-Za-z_-]{35}\b/),
  regexRule(
    'oauth-token',
    'an OAuth token (a token file of `fte mail login`)',
    /"(?:access_token|refresh_token)"\s*:\s*"[^"\s]{8,}"/,
  ),
  regexRule('env-secret-assignment', 'a .env-style secret assignment', ENV_ASSIGNMENT),
  {
    rule: 'yaml-secret-assignment',
    description: 'a password, secret or token field',
    matches: hasYamlSecret,
  },
  {
    rule: 'long-hex',
    stage: 'random',
    description: 'a long random hex string (48+ hex digits, outside a hash field)',
    matches: hasLongHex,
  },
  {
    rule: 'long-base64',
    stage: 'random',
    description: 'a long random base64 string (40+ characters)',
    matches: hasLongBase64,
    // Raw mail is full of them (DKIM `bh=`/`b=`, ARC seals, X-Gm-* headers): vendor rules only there.
    formats: ['note'],
  },
];

/** The first of fte's own rules of `stage` that `text` breaks, or undefined. */
export function findFteSecret(text: string, stage: Stage, format: TextFormat = 'note'): RuleHit | undefined {
  const hit = RULES.find(
    (r) => (r.stage ?? 'pattern') === stage && (r.formats ?? [format]).includes(format) && r.matches(text),
  );
  return hit ? { rule: hit.rule, description: hit.description } : undefined;
}

/** The rule ids, for documentation and tests. */
export const FTE_RULE_IDS = RULES.map((r) => r.rule);
