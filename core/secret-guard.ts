import { constants } from 'node:fs';
import { type FileHandle, lstat, open, readlink } from 'node:fs/promises';
import { isErrno } from './fsutil.js';
import { containsKnownSecret, type KnownSecrets, knownSecrets } from './known-secrets.js';
import { findFteSecret, type RuleHit, type TextFormat } from './secret-rules.js';
import { findSecretlintSecret } from './secretlint-rules.js';

/**
 * The secret guard (DESIGN.md §4): before every commit, each changed path is checked by name, then, if it
 * is a regular file, by content, the whole file, in chunks. Rules: secretlint's recommended preset plus
 * fte's own (`secret-rules.ts`) plus, when given, the exact secrets of this machine (`known-secrets.ts`).
 * Decision and trade-offs: docs/adr/0006-secret-guard.md.
 */

/** Why a file must not be committed, or undefined when it may be. `rule` names the rule that fired. */
export type SecretFinding = { path: string; reason: string; rule?: string };

export type SecretGuardOptions = {
  /** Secrets this machine holds (e.g. the approval key's bytes): refused in raw, hex or base64 form. */
  knownSecrets?: readonly Buffer[];
};

export type SecretGuard = {
  inspectFile(absPath: string, relPath: string): Promise<SecretFinding | undefined>;
  scanText(text: string, relPath?: string): Promise<RuleHit | undefined>;
};

const SECRET_NAMES: Array<[RegExp, string, string]> = [
  [/(^|\/)\.env(\..*)?$|\.env$|(^|\/)\.envrc$/i, 'env-file', 'environment file (.env*, *.env)'],
  [/\.session$/i, 'session-file', 'session file (*.session)'],
  [/(^|\/)credentials[^/]*\.json$/i, 'credentials-file', 'credentials file (credentials*.json)'],
  [/(^|\/)(token|tokens)[^/]*\.json$/i, 'token-file', 'token file (token*.json)'],
  [/(^|\/)\.secrets\//i, 'secrets-dir', 'file under .secrets/'],
  [/\.(pem|key|p12|pfx|jks|keystore|ppk)$/i, 'key-file', 'key or certificate store'],
  [/(^|\/)id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$/i, 'ssh-key-file', 'SSH key'],
  [
    /(^|\/)(\.netrc|\.pgpass|\.git-credentials)$/i,
    'credentials-file',
    'credentials file (.netrc, .pgpass, .git-credentials)',
  ],
];

/** Bytes read per step; each step also rescans the previous step's last OVERLAP bytes. */
export const CHUNK_BYTES = 1024 * 1024;
/** Half of it is longer than any secret a rule looks for (secretlint's PEM rule stops at 10 000 characters). */
export const OVERLAP_BYTES = 64 * 1024;

export function findSecretName(path: string): string | undefined {
  return SECRET_NAMES.find(([pattern]) => pattern.test(path))?.[2];
}

function findSecretNameRule(path: string): RuleHit | undefined {
  const hit = SECRET_NAMES.find(([pattern]) => pattern.test(path));
  return hit ? { rule: `name:${hit[1]}`, description: hit[2] } : undefined;
}

/** Raw messages as received are scanned without the base64 heuristic (DKIM and ARC headers are base64). */
export function formatOf(path: string): TextFormat {
  return /\.(orig|eml)$/i.test(path) ? 'raw-mail' : 'note';
}

/**
 * fte's own rules only, synchronously (no secretlint): for callers that cannot wait. Prefer
 * `scanText`, which also runs the maintained rule set.
 */
export function findSecretContent(text: string, format: TextFormat = 'note'): string | undefined {
  return (findFteSecret(text, 'pattern', format) ?? findFteSecret(text, 'random', format))?.description;
}

async function scanWindow(bytes: Buffer, path: string, known: KnownSecrets): Promise<RuleHit | undefined> {
  if (containsKnownSecret(bytes, known)) {
    return { rule: 'known-secret', description: 'a secret this machine holds (raw, hex or base64)' };
  }
  const text = bytes.toString('utf8');
  const format = formatOf(path);
  return (
    findFteSecret(text, 'pattern', format) ??
    (await findSecretlintSecret(text, path)) ??
    findFteSecret(text, 'random', format)
  );
}

/**
 * Reads the whole file in CHUNK_BYTES steps. A window ends at its last full line (the cut-off line is
 * carried over, so no rule sees a line cut short, e.g. a hash without its `content_sha256:` key) and the
 * next window starts OVERLAP_BYTES before the end of this read, or later at the first line start there
 * when that is at least OVERLAP_BYTES / 4 before the end of the scanned window; so a secret shorter than
 * that which spans a border is whole in one window.
 */
async function scanHandle(
  handle: FileHandle,
  path: string,
  known: KnownSecrets,
): Promise<RuleHit | undefined> {
  const buffer = Buffer.alloc(OVERLAP_BYTES + CHUNK_BYTES);
  let carried = 0;
  let position = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, carried, CHUNK_BYTES, position);
    position += bytesRead;
    const filled = carried + bytesRead;
    const last = bytesRead < CHUNK_BYTES;
    const lineEnd = last ? filled : buffer.lastIndexOf(10, filled - 1) + 1;
    // A line longer than half the overlap is scanned in pieces like any other bytes.
    const scanEnd = lineEnd > filled - OVERLAP_BYTES / 2 ? lineEnd : filled;
    const hit = await scanWindow(buffer.subarray(0, scanEnd), path, known);
    if (hit || last) return hit;
    const earliest = filled - OVERLAP_BYTES;
    // Only bytes of this read: what lies past `filled` is left over from an earlier one.
    const lineStart = buffer.subarray(0, filled).indexOf(10, earliest) + 1;
    const from = lineStart > 0 && lineStart <= scanEnd - OVERLAP_BYTES / 4 ? lineStart : earliest;
    carried = filled - from;
    buffer.copy(buffer, 0, from, filled);
  }
}

const finding = (path: string, hit: RuleHit): SecretFinding => ({
  path,
  reason: `refused: contains ${hit.description} (rule ${hit.rule})`,
  rule: hit.rule,
});

async function inspectSymlink(
  absPath: string,
  relPath: string,
  known: KnownSecrets,
): Promise<SecretFinding | undefined> {
  // Git commits a link as its target string: scan that string, never what it points to.
  const target = Buffer.from(await readlink(absPath));
  const hit = await scanWindow(target, relPath, known);
  return hit ? finding(relPath, hit) : undefined;
}

async function inspectWith(
  absPath: string,
  relPath: string,
  known: KnownSecrets,
): Promise<SecretFinding | undefined> {
  const byName = findSecretNameRule(relPath);
  if (byName)
    return {
      path: relPath,
      reason: `refused: ${byName.description} (rule ${byName.rule})`,
      rule: byName.rule,
    };
  let info: Awaited<ReturnType<typeof lstat>>;
  try {
    info = await lstat(absPath);
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined; // deleted: always passes
    throw error;
  }
  if (info.isSymbolicLink()) return inspectSymlink(absPath, relPath, known);
  if (info.isDirectory()) return undefined;
  if (!info.isFile()) {
    return {
      path: relPath,
      reason: 'refused: not a regular file (FIFO, socket or device)',
      rule: 'special-file',
    };
  }
  let handle: FileHandle;
  try {
    // O_NOFOLLOW: a file swapped for a link after lstat is not followed; O_NONBLOCK: nor is a FIFO waited on.
    handle = await open(absPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    if (isErrno(error, 'ELOOP')) return inspectSymlink(absPath, relPath, known);
    throw error;
  }
  try {
    if (!(await handle.stat()).isFile()) {
      return {
        path: relPath,
        reason: 'refused: not a regular file (FIFO, socket or device)',
        rule: 'special-file',
      };
    }
    const hit = await scanHandle(handle, relPath, known);
    return hit ? finding(relPath, hit) : undefined;
  } finally {
    await handle.close();
  }
}

export function createSecretGuard(options: SecretGuardOptions = {}): SecretGuard {
  const known = knownSecrets(options.knownSecrets ?? []);
  return {
    inspectFile: (absPath, relPath) => inspectWith(absPath, relPath, known),
    scanText: (text, relPath = 'text.md') => scanWindow(Buffer.from(text), relPath, known),
  };
}

const NO_KNOWN_SECRETS = knownSecrets([]);

/**
 * Checks one vault-relative path (its name, then its content if it is a regular file); deleted files and
 * directories pass, a symlink is judged by its target string and never opened.
 */
export function inspectFile(
  absPath: string,
  relPath: string,
  options?: SecretGuardOptions,
): Promise<SecretFinding | undefined> {
  const known = options?.knownSecrets ? knownSecrets(options.knownSecrets) : NO_KNOWN_SECRETS;
  return inspectWith(absPath, relPath, known);
}

/** Every rule (fte's, secretlint's, and the known secrets when given) on one text, e.g. an email body. */
export function scanText(
  text: string,
  options: SecretGuardOptions & { path?: string } = {},
): Promise<RuleHit | undefined> {
  return createSecretGuard(options).scanText(text, options.path);
}

export type { RuleHit };

/** The lines of the vault's `.gitignore` that keep secrets out even if the guard is bypassed. */
export const SECRET_GITIGNORE = [
  '# fte: secrets never enter the vault (the secret guard also refuses them at commit time)',
  '.env',
  '.env.*',
  '*.session',
  'credentials*.json',
  'token*.json',
  '.secrets/',
  '*.pem',
  '*.key',
  '# fte: local-only state',
  '.fte/',
  '.obsidian/workspace*.json',
  '',
].join('\n');
