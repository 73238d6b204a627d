import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FteError } from '../../core/errors.js';
import { initVault } from '../../core/init.js';
import type { VaultPort } from '../../core/vault/change.js';
import { HttpVaultPort, serveVaultPort, type VaultPortServer } from '../../core/vault/http-port.js';
import { InvalidChangeError, LocalVaultPort } from '../../core/vault/local-port.js';
import { VaultRepo } from '../../core/vault-repo.js';
import { git, itemText, remoteWithClones, tempDir } from '../helpers/vaults.js';

const TOKEN = 'test-token-0123456789abcdef';
const servers: VaultPortServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()?.close();
});

type Make = (repo: VaultRepo) => Promise<VaultPort>;
const KINDS: Array<[string, Make]> = [
  ['in-process', async (repo) => new LocalVaultPort(repo)],
  [
    'loopback HTTP',
    async (repo) => {
      const server = await serveVaultPort({ port: new LocalVaultPort(repo), token: TOKEN });
      servers.push(server);
      return new HttpVaultPort(repo.root, repo.agent, server.url, TOKEN);
    },
  ],
];

async function vault(): Promise<{ dir: string; repo: VaultRepo }> {
  const dir = join(await tempDir(), 'vault');
  await initVault(dir, { agent: 'cloud' });
  return { dir, repo: new VaultRepo({ root: dir, agent: 'cloud' }) };
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const commits = async (dir: string) => Number((await git(dir, 'rev-list', '--count', 'HEAD')).trim());

describe.each(KINDS)('VaultPort (%s)', (_name, make) => {
  it('applies writes, moves, deletes and audit records as one commit with the given message', async () => {
    const { dir, repo } = await vault();
    const port = await make(repo);
    await mkdir(join(dir, 'Needs_Action', 'email'), { recursive: true });
    await writeFile(join(dir, 'Needs_Action/email/A.md'), itemText({ type: 'email' }));
    await writeFile(join(dir, 'Updates/old.md'), 'old');
    await repo.commit('cloud: add A');
    const before = await commits(dir);
    const result = await port.apply({
      message: 'cloud: draft A',
      preconditions: [
        { kind: 'sha256', path: 'Needs_Action/email/A.md', sha256: sha(itemText({ type: 'email' })) },
      ],
      operations: [
        { op: 'move', from: 'Needs_Action/email/A.md', to: 'In_Progress/cloud/A.md' },
        { op: 'write', path: 'Pending_Approval/email/A.md', content: 'draft\n' },
        { op: 'write', path: 'Updates/old.md', content: 'never', mode: 'ensure' },
        { op: 'delete', path: 'Updates/old.md' },
      ],
      audit: [{ action_type: 'approval_requested', actor: 'cloud', target: 'A', result: 'ok', task: 'A' }],
    });
    expect(result).toEqual({ kind: 'applied', committed: true, refused: [] });
    expect(await commits(dir)).toBe(before + 1);
    expect((await git(dir, 'log', '-1', '--format=%s')).trim()).toBe('cloud: draft A');
    expect(await readFile(join(dir, 'Pending_Approval/email/A.md'), 'utf8')).toBe('draft\n');
    expect(await readdir(join(dir, 'Updates'))).not.toContain('old.md');
    expect((await git(dir, 'status', '--porcelain')).trim()).toBe('');
    const day = new Date().toISOString().slice(0, 10);
    expect(await readFile(join(dir, `Logs/${day}.json`), 'utf8')).toContain('"approval_requested"');
  });

  it('refuses the whole change when a stated or implied precondition fails: nothing written, no commit', async () => {
    const { dir, repo } = await vault();
    const port = await make(repo);
    await writeFile(join(dir, 'Updates/x.md'), 'x');
    await repo.commit('cloud: add x');
    const before = await commits(dir);
    const stale = await port.apply({
      message: 'cloud: triage X',
      preconditions: [{ kind: 'sha256', path: 'Updates/x.md', sha256: sha('something else') }],
      operations: [{ op: 'write', path: 'Updates/y.md', content: 'y' }],
    });
    expect(stale).toMatchObject({
      kind: 'conflict',
      reason: expect.stringContaining('changed since it was read'),
    });
    const exists = await port.apply({
      message: 'cloud: draft X',
      operations: [
        { op: 'write', path: 'Updates/z.md', content: 'z' },
        { op: 'write', path: 'Updates/x.md', content: 'clobber' },
      ],
    });
    expect(exists).toMatchObject({ kind: 'conflict', reason: 'Updates/x.md already exists' });
    const moveMissing = await port.apply({
      message: 'cloud: expire X',
      operations: [{ op: 'move', from: 'Pending_Approval/email/X.md', to: 'Rejected/X.md' }],
    });
    expect(moveMissing).toMatchObject({ kind: 'conflict' });
    expect(await commits(dir)).toBe(before);
    expect(await readdir(join(dir, 'Updates'))).toEqual(expect.not.arrayContaining(['y.md', 'z.md']));
    expect(await readFile(join(dir, 'Updates/x.md'), 'utf8')).toBe('x');
  });

  it('rejects changes that do not fit the schema: paths out of the vault, .git, bad messages', async () => {
    const { repo } = await vault();
    const port = await make(repo);
    for (const change of [
      { message: 'cloud: x X', operations: [{ op: 'write', path: '../outside.md', content: '' }] },
      { message: 'cloud: x X', operations: [{ op: 'write', path: '/etc/passwd', content: '' }] },
      { message: 'cloud: x X', operations: [{ op: 'write', path: 'a/.git/config', content: '' }] },
      { message: 'cloud: x X', operations: [{ op: 'delete', path: '.GIT/HEAD' }] },
      { message: 'no agent prefix', operations: [] },
      { message: 'cloud: x X', operations: [{ op: 'chmod', path: 'a' }] },
    ]) {
      await expect(port.apply(change as never), JSON.stringify(change)).rejects.toBeInstanceOf(
        InvalidChangeError,
      );
    }
  });

  it('never writes or moves through a symlinked folder; the refusal is an error, the outside untouched', async () => {
    const { dir, repo } = await vault();
    const port = await make(repo);
    const outside = join(await tempDir(), 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'notes.md'), 'private');
    await rm(join(dir, 'Done'), { recursive: true });
    await symlink(outside, join(dir, 'Done'));
    const result = port.apply({
      message: 'local: done X',
      operations: [{ op: 'write', path: 'Done/X.md', content: 'x', mode: 'replace' }],
    });
    await expect(result).resolves.toMatchObject({
      kind: 'conflict',
      reason: expect.stringContaining('symbolic link'),
    });
    const move = port.apply({
      message: 'local: done X',
      operations: [{ op: 'move', from: 'Done/notes.md', to: 'Updates/notes.md' }],
    });
    await expect(move).resolves.toMatchObject({ kind: 'conflict' });
    expect(await readdir(outside)).toEqual(['notes.md']);
    expect(await readFile(join(outside, 'notes.md'), 'utf8')).toBe('private');
  });

  it('claims through the port: one agent wins, the other is told who owns it', async () => {
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    await mkdir(join(cloud.dir, 'Needs_Action/email'), { recursive: true });
    await writeFile(join(cloud.dir, 'Needs_Action/email/C.md'), itemText({ type: 'email' }));
    await cloud.repo.commit('cloud: intake C');
    await cloud.repo.sync();
    await local.repo.sync();
    const cloudPort = await make(cloud.repo);
    const localPort = await make(local.repo);
    expect(await cloudPort.claim('C')).toMatchObject({ result: 'won' });
    expect(await localPort.claim('C')).toMatchObject({ result: 'lost', owner: 'cloud' });
    expect((await localPort.sync()).state).toBe('synced');
  });
});

describe('the loopback HTTP port', () => {
  it('refuses a missing or wrong token and a non-loopback bind', async () => {
    const { repo } = await vault();
    const server = await serveVaultPort({ port: new LocalVaultPort(repo), token: TOKEN });
    servers.push(server);
    const wrong = new HttpVaultPort(repo.root, repo.agent, server.url, `${TOKEN}x`);
    await expect(wrong.sync()).rejects.toThrow(/refused the token/);
    const bare = await fetch(`${server.url}/v1/sync`, { method: 'POST', body: '{}' });
    expect(bare.status).toBe(401);
    await expect(
      serveVaultPort({ port: new LocalVaultPort(repo), token: TOKEN, host: '0.0.0.0' }),
    ).rejects.toThrow(/loopback only/);
    await expect(serveVaultPort({ port: new LocalVaultPort(repo), token: 'short' })).rejects.toThrow(
      /at least 16/,
    );
  });

  it('an unreachable port is a retryable error, not a crash', async () => {
    const { repo } = await vault();
    const port = new HttpVaultPort(repo.root, repo.agent, 'http://127.0.0.1:9', TOKEN);
    const error = await port.sync().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FteError);
    expect((error as FteError).retryable).toBe(true);
  });

  it('two writers through one port never corrupt the clone: 40 concurrent changes, 40 commits, fsck clean', async () => {
    const { dir, repo } = await vault();
    const server = await serveVaultPort({ port: new LocalVaultPort(repo), token: TOKEN });
    servers.push(server);
    const a = new HttpVaultPort(dir, 'cloud', server.url, TOKEN);
    const b = new LocalVaultPort(repo);
    const before = await commits(dir);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).apply({
          message: `cloud: draft T${i}`,
          operations: [{ op: 'write', path: `Updates/T${i}.md`, content: `${i}\n` }],
        }),
      ),
    );
    expect(results.every((r) => r.kind === 'applied' && r.committed)).toBe(true);
    expect(await commits(dir)).toBe(before + 40);
    await git(dir, 'fsck', '--strict');
    expect((await git(dir, 'status', '--porcelain')).trim()).toBe('');
  });
});
