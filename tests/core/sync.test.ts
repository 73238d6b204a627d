import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../core/audit.js';
import { initVault } from '../../core/init.js';
import { VaultRepo } from '../../core/vault-repo.js';
import { git, isAncestor, itemText, refUpdates, remoteWithClones, tempDir } from '../helpers/vaults.js';

async function addNote(dir: string, name: string, text = `note ${name}\n`): Promise<string> {
  const path = `Plans/files/${name}.md`;
  await mkdir(join(dir, 'Plans', 'files'), { recursive: true });
  await writeFile(join(dir, path), text);
  return path;
}

describe('git sync', () => {
  it('makes the first push to an empty remote and brings a second clone up to date', async () => {
    const { remote, clones } = await remoteWithClones(['cloud', 'local']);
    expect((await git(remote, 'log', '--format=%s', 'main')).trim().split('\n')).toEqual([
      'cloud: create vault',
    ]);
    // The local clone adopted the remote's history instead of starting its own.
    expect((await git(clones.local!.dir, 'log', '--format=%s')).trim().split('\n')).toEqual([
      'cloud: create vault',
    ]);
  });

  it('commits small named commits and delivers them to the other clone', async () => {
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    await cloud.repo.change('cloud: draft X1', async () => [await addNote(cloud.dir, 'X1')]);
    const report = await cloud.repo.sync();
    expect(report).toMatchObject({ state: 'synced', pushed: 1 });
    expect((await clones.local!.repo.sync()).pulled).toBe(1);
    expect(await readFile(join(clones.local!.dir, 'Plans/files/X1.md'), 'utf8')).toBe('note X1\n');
    expect((await git(clones.local!.dir, 'log', '-1', '--format=%s')).trim()).toBe('cloud: draft X1');
  });

  it('keeps working while the remote is down and delivers everything when it returns', async () => {
    const { root, remote, clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    await rename(remote, join(root, 'moved-away.git'));
    const written: string[] = [];
    for (let i = 0; i < 5; i++) {
      await cloud.repo.change(`cloud: draft C${i}`, async () => [await addNote(cloud.dir, `C${i}`)]);
      await local.repo.change(`local: note L${i}`, async () => [await addNote(local.dir, `L${i}`)]);
      written.push(`C${i}`, `L${i}`);
      const offline = await cloud.repo.sync();
      expect(offline.state).toBe('offline');
      expect(offline.error).toBeTruthy();
      expect((await local.repo.sync()).state).toBe('offline');
    }
    await rename(join(root, 'moved-away.git'), remote);
    expect((await cloud.repo.sync()).state).toBe('synced');
    expect((await local.repo.sync()).state).toBe('synced');
    expect((await cloud.repo.sync()).state).toBe('synced');
    for (const dir of [cloud.dir, local.dir]) {
      for (const name of written) expect(existsSync(join(dir, 'Plans/files', `${name}.md`))).toBe(true);
    }
    const tree = await git(remote, 'ls-tree', '-r', '--name-only', 'main');
    for (const name of written) expect(tree).toContain(`Plans/files/${name}.md`);
    for (const [older, newer] of await refUpdates(remote))
      expect(await isAncestor(remote, older, newer)).toBe(true);
  });

  it('keeps both versions of a content conflict and writes an audit record', async () => {
    const { remote, clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    await cloud.repo.change('cloud: add shared', async () => [await addNote(cloud.dir, 'shared', 'base\n')]);
    await cloud.repo.sync();
    await local.repo.sync();
    await cloud.repo.change('cloud: edit shared', async () => [
      await addNote(cloud.dir, 'shared', 'cloud version\n'),
    ]);
    await local.repo.change('local: edit shared', async () => [
      await addNote(local.dir, 'shared', 'local version\n'),
    ]);
    await cloud.repo.sync();
    const report = await local.repo.sync();
    expect(report.state).toBe('synced');
    expect(report.conflicts).toHaveLength(1);
    const copy = report.conflicts[0]!;
    expect(copy).toMatch(/^Plans\/files\/shared\.conflict-local-.*\.md$/);
    expect(await readFile(join(local.dir, 'Plans/files/shared.md'), 'utf8')).toBe('cloud version\n');
    expect(await readFile(join(local.dir, copy), 'utf8')).toBe('local version\n');
    const tree = await git(remote, 'ls-tree', '-r', '--name-only', 'main');
    expect(tree).toContain(copy);
    const records = await new AuditLog(local.dir).read(new Date());
    expect(records).toContainEqual(
      expect.objectContaining({
        action_type: 'sync_conflict',
        target: 'Plans/files/shared.md',
        result: 'both_versions_kept',
      }),
    );
  });

  it('merges both agents\u2019 lines of the same day\u2019s audit log without a conflict', async () => {
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const entry = (actor: string) => ({ action_type: 'test', actor, target: 'x', result: 'ok' });
    await new AuditLog(clones.cloud!.dir).append(entry('cloud'));
    await new AuditLog(clones.local!.dir).append(entry('local'));
    await clones.cloud!.repo.sync();
    const report = await clones.local!.repo.sync();
    expect(report.conflicts).toEqual([]);
    const actors = (await new AuditLog(clones.local!.dir).read(new Date())).map((r) => r.actor).sort();
    expect(actors).toEqual(['cloud', 'local']);
  });

  it('commits nothing when a listed change vanishes on staging', async () => {
    const { clones } = await remoteWithClones(['local']);
    const { dir, repo } = clones.local!;
    // Staged by someone, then the file put back as committed: status lists it, staging it again undoes it.
    const committed = await git(dir, 'show', 'HEAD:Dashboard.md');
    await writeFile(join(dir, 'Dashboard.md'), 'staged by someone\n');
    await git(dir, 'add', 'Dashboard.md');
    await writeFile(join(dir, 'Dashboard.md'), committed);
    expect(await git(dir, 'status', '--porcelain')).toContain('Dashboard.md');
    const before = await git(dir, 'rev-parse', 'HEAD');
    expect(await repo.commit('local: nothing')).toEqual({ committed: false, refused: [] });
    expect(await git(dir, 'rev-parse', 'HEAD')).toBe(before);
  });

  it('recovers from a crash that left a stale index.lock', async () => {
    const { clones } = await remoteWithClones(['cloud']);
    const dir = clones.cloud!.dir;
    await writeFile(join(dir, '.git', 'index.lock'), '');
    await addNote(dir, 'after-crash');
    const report = await new VaultRepo({ root: dir, agent: 'cloud' }).sync();
    expect(report).toMatchObject({ state: 'synced', pushed: 1 });
  });
});

describe('secret guard', () => {
  it('never commits secret files or secret-looking content, commits ordinary notes, and says why', async () => {
    const dir = join(await tempDir(), 'vault');
    await initVault(dir, { agent: 'local' });
    // Without the vault's .gitignore the guard alone must hold the line.
    await rename(join(dir, '.gitignore'), join(dir, 'gitignore.bak'));
    const secrets: Record<string, string> = {
      '.env': 'SMTP_PASSWORD=hunter2hunter2\n',
      'Inbox/.env.production': 'X=1\n',
      'Inbox/whatsapp.session': '{"cookie":"x"}',
      'Inbox/credentials.json': '{"installed":{}}',
      'Inbox/server-key.md': '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n',
      'Inbox/openssh.md': '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n',
      'Plans/files/keys.md': `# keys\nthe api key is sk-ant-api03-${'A'.repeat(40)}\n`,
      'Plans/files/env-paste.md': 'notes\nexport STRIPE_SECRET=abcd1234efgh\n',
    };
    const ordinary: Record<string, string> = {
      'Plans/files/ordinary.md': '# Plan\n- [ ] call the client about SMTP_PASSWORD rotation\n',
      'Inbox/pricing.md': 'The key point: sk- prefixes are not secrets by themselves.\n',
    };
    for (const [path, text] of Object.entries({ ...secrets, ...ordinary })) {
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    const events: string[] = [];
    const repo = new VaultRepo({ root: dir, agent: 'local', onEvent: (e) => events.push(e.message) });
    const result = await repo.commit('local: add notes');
    expect(result.committed).toBe(true);
    const tracked = (await git(dir, 'ls-files')).split('\n');
    for (const path of Object.keys(secrets)) expect(tracked).not.toContain(path);
    for (const path of Object.keys(ordinary)) expect(tracked).toContain(path);
    expect(result.refused.map((r) => r.path).sort()).toEqual(Object.keys(secrets).sort());
    expect(result.refused.find((r) => r.path === 'Plans/files/keys.md')?.reason).toMatch(/Anthropic API key/);
    expect(result.refused.find((r) => r.path === 'Inbox/server-key.md')?.reason).toMatch(/private key/);
    expect(events.some((e) => e.includes('Inbox/credentials.json'))).toBe(true);
    // Also through a full sync cycle, and in all history.
    await repo.sync();
    const everCommitted = await git(dir, 'log', '--all', '--name-only', '--format=');
    for (const path of Object.keys(secrets)) expect(everCommitted).not.toContain(path);
  });
});

describe('fte init', () => {
  it('is idempotent and never overwrites an existing file', async () => {
    const dir = join(await tempDir(), 'vault');
    const first = await initVault(dir);
    expect(first.created).toContain('Company_Handbook.md');
    await writeFile(join(dir, 'Company_Handbook.md'), '# my own rules\n');
    const second = await initVault(dir);
    expect(second.created).toEqual([]);
    expect(await readFile(join(dir, 'Company_Handbook.md'), 'utf8')).toBe('# my own rules\n');
    for (const folder of [
      'Needs_Action/email',
      'In_Progress/cloud',
      'Pending_Approval/email',
      'Done',
      'Updates',
      'Logs',
    ]) {
      expect(existsSync(join(dir, folder))).toBe(true);
    }
    expect(await readFile(join(dir, '.gitignore'), 'utf8')).toMatch(/\.env/);
    expect((await git(dir, 'log', '--format=%s')).trim().split('\n')).toEqual([
      'local: init vault',
      'local: create vault',
    ]);
    expect(await git(dir, 'status', '--porcelain')).toBe('');
  });

  it('writes items a status listing can read', async () => {
    const dir = join(await tempDir(), 'vault');
    await initVault(dir);
    await writeFile(join(dir, 'Needs_Action/email/E1.md'), itemText({ type: 'email', subject: 'Hello' }));
    await writeFile(join(dir, 'Needs_Action/email/BROKEN.md'), '---\ntype: [\n---\n');
    const { scanVault, summarizeTasks } = await import('../../core/status.js');
    const tasks = summarizeTasks(await scanVault(dir));
    expect(tasks.map((t) => [t.id, t.domain, t.phase, t.title])).toEqual([
      ['BROKEN', 'email', 'NeedsAction', undefined],
      ['E1', 'email', 'NeedsAction', 'Hello'],
    ]);
    expect(tasks[0]!.error).toMatch(/invalid YAML/);
  });

  it('shows a finished task by its outcome file, with its item beside it', async () => {
    const dir = join(await tempDir(), 'vault');
    await initVault(dir);
    await writeFile(join(dir, 'Done/E2.item.md'), itemText({ type: 'email', subject: 'Hi' }));
    await writeFile(
      join(dir, 'Done/E2.md'),
      itemText({ type: 'approval_request', action: 'send_email', status: 'executed' }),
    );
    const { scanVault, summarizeTasks } = await import('../../core/status.js');
    const [task] = summarizeTasks(await scanVault(dir));
    expect(task).toMatchObject({
      id: 'E2',
      phase: 'Done',
      domain: 'email',
      paths: ['Done/E2.md', 'Done/E2.item.md'],
    });
  });

  it('a remote that moves before every push: the retry budget runs out, nothing is lost, the next sync delivers', async () => {
    const { root, remote, clones } = await remoteWithClones(['cloud', 'local']);
    const local = clones.local!;
    // The cloud's clone with a 1.5 s retry budget; its pre-push hook makes the local clone push first,
    // every time: between our fetch/rebase and our push the remote has always moved on.
    const events: string[] = [];
    const cloud = new VaultRepo({
      root: clones.cloud!.dir,
      agent: 'cloud',
      pushRetryBudgetMs: 1_500,
      onEvent: (e) => events.push(`${e.kind}: ${e.message}`),
    });
    await cloud.change('cloud: draft M1', async () => [await addNote(clones.cloud!.dir, 'M1')]);
    const hook = join(clones.cloud!.dir, '.git', 'hooks', 'pre-push');
    const other = [
      'env',
      '-u',
      'GIT_DIR',
      '-u',
      'GIT_INDEX_FILE',
      '-u',
      'GIT_WORK_TREE',
      'git',
      '-C',
      `'${local.dir}'`,
    ];
    await writeFile(
      hook,
      [
        '#!/bin/sh',
        `n=$(($(cat '${root}/races' 2>/dev/null || echo 0) + 1)); echo $n > '${root}/races'`,
        `mkdir -p '${local.dir}/Plans/files' && echo "race $n" > '${local.dir}/Plans/files/R'$n'.md'`,
        `${other.join(' ')} add Plans/files >/dev/null 2>&1`,
        `${other.join(' ')} -c user.name=racer -c user.email=r@x commit --quiet -m "local: race $n" >/dev/null 2>&1`,
        `${other.join(' ')} push --quiet origin HEAD:main >/dev/null 2>&1`,
        'exit 0',
        '',
      ].join('\n'),
    );
    await chmod(hook, 0o755);

    const failed = await cloud.sync();
    expect(failed.state).toBe('offline');
    expect(failed.error).toMatch(
      /^push still rejected after \d+ attempts in 1\.5 s: the remote kept moving between our fetch and our push; our commits stay here/,
    );
    expect(events.some((e) => e.startsWith('offline: push still rejected'))).toBe(true);
    const races = Number((await readFile(join(root, 'races'), 'utf8')).trim());
    expect(races).toBeGreaterThanOrEqual(2);
    // Nothing lost: our commit is still ours, rebased on everything the remote got meanwhile.
    expect(await git(clones.cloud!.dir, 'log', '--format=%s', 'origin/main..HEAD')).toBe('cloud: draft M1\n');
    expect(await git(clones.cloud!.dir, 'status', '--porcelain')).toBe('');
    expect(await git(remote, 'log', '--format=%s', 'main')).not.toMatch(/draft M1/);

    // The remote stops moving: the next sync delivers, on top of every racing commit.
    await rm(hook);
    const next = await cloud.sync();
    expect(next).toMatchObject({ state: 'synced', pushed: 1 });
    const history = await git(remote, 'log', '--format=%s', 'main');
    expect(history).toMatch(/^cloud: draft M1$/m);
    for (let n = 1; n <= races; n++) expect(history).toMatch(new RegExp(`^local: race ${n}$`, 'm'));
    expect(await readFile(join(clones.cloud!.dir, 'Plans/files/M1.md'), 'utf8')).toBe('note M1\n');
    expect((await local.repo.sync()).state).toBe('synced');
    expect(existsSync(join(local.dir, 'Plans/files/M1.md'))).toBe(true);
    // History only ever moved forward.
    const updates = await refUpdates(remote);
    for (const [older, newer] of updates.slice(1)) expect(await isAncestor(remote, older, newer)).toBe(true);
  });
});
