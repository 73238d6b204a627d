import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { findSecretName, inspectFile, SECRET_GITIGNORE } from '../../core/secret-guard.js';

const exec = promisify(execFile);

/**
 * The secret guard's file-name rules, one path at a time: what each pattern refuses (at the vault's root
 * and in a folder) and the look-alikes it lets through, with the rule each refusal names. And the
 * `.gitignore` a new vault gets: git itself ignores those names.
 */

const REFUSED: Array<[string, string, string]> = [
  ['.env', 'env-file', 'environment file (.env*, *.env)'],
  ['.env.local', 'env-file', 'environment file (.env*, *.env)'],
  ['Plans/.env.production', 'env-file', 'environment file (.env*, *.env)'],
  ['Plans/app.env', 'env-file', 'environment file (.env*, *.env)'],
  ['.envrc', 'env-file', 'environment file (.env*, *.env)'],
  ['Plans/.envrc', 'env-file', 'environment file (.env*, *.env)'],
  ['whatsapp.session', 'session-file', 'session file (*.session)'],
  ['Inbox/WA.SESSION', 'session-file', 'session file (*.session)'],
  ['credentials.json', 'credentials-file', 'credentials file (credentials*.json)'],
  ['Plans/credentials-google-prod.json', 'credentials-file', 'credentials file (credentials*.json)'],
  ['token.json', 'token-file', 'token file (token*.json)'],
  ['Plans/tokens-gmail.json', 'token-file', 'token file (token*.json)'],
  ['.secrets/a.md', 'secrets-dir', 'file under .secrets/'],
  ['Plans/.secrets/b.md', 'secrets-dir', 'file under .secrets/'],
  ['server.pem', 'key-file', 'key or certificate store'],
  ['Plans/approval.key', 'key-file', 'key or certificate store'],
  ['Plans/store.p12', 'key-file', 'key or certificate store'],
  ['Plans/putty.ppk', 'key-file', 'key or certificate store'],
  ['id_rsa', 'ssh-key-file', 'SSH key'],
  ['Plans/id_ed25519.pub', 'ssh-key-file', 'SSH key'],
  ['.netrc', 'credentials-file', 'credentials file (.netrc, .pgpass, .git-credentials)'],
  ['Plans/.pgpass', 'credentials-file', 'credentials file (.netrc, .pgpass, .git-credentials)'],
  ['Plans/.git-credentials', 'credentials-file', 'credentials file (.netrc, .pgpass, .git-credentials)'],
];

/** Names that contain a rule's word but are notes: each would be refused by a pattern missing an anchor. */
const ALLOWED = [
  'Plans/.envoy.md',
  'Plans/my.environment.md',
  'Plans/.envrc.md',
  'Plans/the.session-notes.md',
  'Plans/credentials.json.md',
  'Plans/old/credentials/notes.json',
  'Plans/token.json.md',
  'Plans/mytoken.json',
  'Plans/secrets/a.md',
  'Plans/a.secrets/b.md',
  'Plans/how-to.key.md',
  'Plans/keys.pem.txt',
  'Plans/id_rsa_rotation.md',
  'Plans/my_id_rsa',
  'Plans/.netrc.md',
  'Plans/x.netrc',
  'Needs_Action/email/EMAIL_1.md',
];

async function file(root: string, rel: string): Promise<string> {
  const abs = join(root, rel);
  await mkdir(dirname(abs), { recursive: true });
  await writeFile(abs, 'nothing secret here\n');
  return abs;
}

describe('the secret guard by file name', () => {
  it.each(REFUSED)('%s is refused by name (%s)', async (path, rule, description) => {
    expect(findSecretName(path)).toBe(description);
    const root = await mkdtemp(join(tmpdir(), 'fte-names-'));
    expect(await inspectFile(await file(root, path), path)).toEqual({
      path,
      reason: `refused: ${description} (rule name:${rule})`,
      rule: `name:${rule}`,
    });
  });

  it.each(ALLOWED)('%s passes', async (path) => {
    expect(findSecretName(path)).toBeUndefined();
    const root = await mkdtemp(join(tmpdir(), 'fte-names-'));
    expect(await inspectFile(await file(root, path), path)).toBeUndefined();
  });
});

describe("a new vault's .gitignore", () => {
  it('git ignores the secret names and the local-only state, and nothing else', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fte-ignore-'));
    await exec('git', ['init', '-q', root]);
    await writeFile(join(root, '.gitignore'), SECRET_GITIGNORE);
    const ignored = [
      '.env',
      'Plans/.env.local',
      'Plans/wa.session',
      'Plans/credentials-google.json',
      'token.json',
      '.secrets/a.md',
      'Plans/server.pem',
      'Plans/approval.key',
      '.fte/state.json',
      '.obsidian/workspace.json',
      '.obsidian/workspace-mobile.json',
    ];
    const kept = ['Plans/notes.md', '.obsidian/app.json', 'Dashboard.md', 'Needs_Action/email/EMAIL_1.md'];
    const check = await exec('git', ['-C', root, 'check-ignore', '--no-index', ...ignored, ...kept]).catch(
      (error: { stdout: string }) => ({ stdout: error.stdout }),
    );
    expect(check.stdout.trim().split('\n').sort()).toEqual([...ignored].sort());
    expect(SECRET_GITIGNORE.endsWith('\n')).toBe(true);
  });
});

describe("a new vault's .gitignore explains itself", () => {
  it('each block of lines starts with an fte comment saying why they are ignored', () => {
    const lines = SECRET_GITIGNORE.split('\n');
    expect(lines[0]).toMatch(/^# fte: secrets never enter the vault \(the secret guard also refuses them/);
    expect(lines[lines.indexOf('.env') - 1]).toBe(lines[0]);
    expect(lines[lines.indexOf('.fte/') - 1]).toBe('# fte: local-only state');
  });
});
