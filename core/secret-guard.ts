import { open } from 'node:fs/promises';
import { isErrno } from './fsutil.js';

/** Why a file must not be committed, or undefined when it may be. */
export type SecretFinding = { path: string; reason: string };

const SECRET_NAMES: Array<[RegExp, string]> = [
  [/(^|\/)\.env(\..*)?$/i, 'environment file (.env*)'],
  [/\.session$/i, 'session file (*.session)'],
  [/(^|\/)credentials[^/]*\.json$/i, 'credentials file (credentials*.json)'],
  [/(^|\/)(token|tokens)[^/]*\.json$/i, 'token file (token*.json)'],
  [/(^|\/)\.secrets\//i, 'file under .secrets/'],
  [/\.(pem|key|p12|pfx|jks|keystore)$/i, 'key or certificate store'],
  [/(^|\/)id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$/i, 'SSH key'],
  [/(^|\/)\.netrc$/i, '.netrc credentials'],
];

const SECRET_CONTENT: Array<[RegExp, string]> = [
  [/-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/, 'a private key block'],
  [/\bsk-ant-[A-Za-z0-9_-]{16,}/, 'an Anthropic API key (sk-ant-…)'],
  [/\bsk-(?:proj-)?[A-Za-z0-9]{32,}/, 'an OpenAI-style API key (sk-…)'],
  [/\bAKIA[0-9A-Z]{16}\b/, 'an AWS access key id'],
  [/\bgh[pousr]_[A-Za-z0-9]{36,}\b/, 'a GitHub token'],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/, 'a Slack token'],
  [/\bAIza[0-9A-Za-z_-]{35}\b/, 'a Google API key'],
  [
    /^\s*(?:export\s+)?[A-Z][A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY)\s*=\s*['"]?[^\s'"#]{4,}/m,
    'a .env-style secret assignment',
  ],
];

/** Bytes of a file read for the content scan; secrets live in the first part of any sane file. */
const SCAN_BYTES = 1024 * 1024;

export function findSecretName(path: string): string | undefined {
  return SECRET_NAMES.find(([pattern]) => pattern.test(path))?.[1];
}

export function findSecretContent(text: string): string | undefined {
  return SECRET_CONTENT.find(([pattern]) => pattern.test(text))?.[1];
}

/** Checks one vault-relative path (its name, then its content if it exists); deleted files always pass. */
export async function inspectFile(absPath: string, relPath: string): Promise<SecretFinding | undefined> {
  const byName = findSecretName(relPath);
  if (byName) return { path: relPath, reason: `refused: ${byName}` };
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(absPath, 'r');
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'EISDIR')) return undefined;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(SCAN_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SCAN_BYTES, 0);
    const byContent = findSecretContent(buffer.subarray(0, bytesRead).toString('utf8'));
    return byContent ? { path: relPath, reason: `refused: contains ${byContent}` } : undefined;
  } finally {
    await handle.close();
  }
}

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
