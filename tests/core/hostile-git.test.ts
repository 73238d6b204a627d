import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../core/audit.js';
import { pathProblem } from '../../core/git/remote-check.js';
import { type SyncReport, VaultRepo, type VaultRepoOptions } from '../../core/vault-repo.js';
import { runFte } from '../helpers/cli.js';
import { git, isAncestor, refUpdates, remoteWithClones } from '../helpers/vaults.js';

/** git with bytes on stdin (mktree, hash-object --stdin). */
function gitIn(dir: string, input: string | Buffer, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: dir });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`git ${args.join(' ')}: ${err}`)),
    );
    child.stdin.end(input);
  });
}

type Plant = { path: string; mode: string; oid: string };

/**
 * Builds a tree with git mktree (which, unlike update-index, lets any name through: `.git`, `.GIT`…),
 * adding `plants` to the tree `base`, and removing `remove` paths.
 */
async function mktreeWith(
  dir: string,
  base: string | undefined,
  plants: Plant[],
  remove: string[] = [],
): Promise<string> {
  const entries = new Map<string, string>();
  if (base) {
    for (const line of (await git(dir, 'ls-tree', '-z', base)).split('\0').filter(Boolean)) {
      entries.set(line.slice(line.indexOf('\t') + 1), line);
    }
  }
  for (const path of remove.filter((p) => !p.includes('/'))) entries.delete(path);
  const byDir = new Map<string, Plant[]>();
  for (const plant of plants) {
    const slash = plant.path.indexOf('/');
    if (slash === -1) {
      const type = plant.mode === '160000' ? 'commit' : plant.mode === '040000' ? 'tree' : 'blob';
      entries.set(plant.path, `${plant.mode} ${type} ${plant.oid}\t${plant.path}`);
    } else {
      const head = plant.path.slice(0, slash);
      byDir.set(head, [...(byDir.get(head) ?? []), { ...plant, path: plant.path.slice(slash + 1) }]);
    }
  }
  const subRemovals = new Map<string, string[]>();
  for (const path of remove.filter((p) => p.includes('/'))) {
    const head = path.slice(0, path.indexOf('/'));
    subRemovals.set(head, [...(subRemovals.get(head) ?? []), path.slice(head.length + 1)]);
    if (!byDir.has(head)) byDir.set(head, []);
  }
  for (const [name, sub] of byDir) {
    const existing = entries.get(name);
    const subBase = existing && / tree /.test(existing) ? existing.split(/\s/)[2] : undefined;
    const oid = await mktreeWith(dir, subBase, sub, subRemovals.get(name));
    entries.set(name, `040000 tree ${oid}\t${name}`);
  }
  return (await gitIn(dir, [...entries.values()].map((l) => `${l}\0`).join(''), 'mktree', '-z')).trim();
}

async function blob(dir: string, content: string | Buffer): Promise<string> {
  return (await gitIn(dir, content, 'hash-object', '-w', '--stdin')).trim();
}

/** The attacker (a compromised cloud) commits a hand-made tree on top of its main and pushes it. */
async function attackerPush(
  dir: string,
  plants: Plant[],
  message: string,
  remove: string[] = [],
): Promise<string> {
  await git(dir, 'fetch', '-q', 'origin');
  await git(dir, 'reset', '-q', '--hard', 'origin/main');
  const tree = await mktreeWith(dir, 'HEAD^{tree}', plants, remove);
  const commit = (
    await git(
      dir,
      '-c',
      'user.name=evil',
      '-c',
      'user.email=evil@x',
      'commit-tree',
      tree,
      '-p',
      'HEAD',
      '-m',
      message,
    )
  ).trim();
  await git(dir, 'push', '-q', 'origin', `${commit}:refs/heads/main`);
  await git(dir, 'reset', '-q', '--hard', commit).catch(() => undefined);
  return commit;
}

/** The attacker removes what it planted: a fixing commit on top of the bad one. */
async function attackerFix(dir: string, remove: string[]): Promise<string> {
  await git(dir, 'fetch', '-q', 'origin');
  const bad = (await git(dir, 'rev-parse', 'origin/main')).trim();
  const tree = await mktreeWith(dir, `${bad}^{tree}`, [], remove);
  const commit = (
    await git(
      dir,
      '-c',
      'user.name=evil',
      '-c',
      'user.email=evil@x',
      'commit-tree',
      tree,
      '-p',
      bad,
      '-m',
      'cloud: fix',
    )
  ).trim();
  await git(dir, 'push', '-q', 'origin', `${commit}:refs/heads/main`);
  return commit;
}

async function setup(victimOptions: Partial<VaultRepoOptions> = {}) {
  const { root, remote, clones } = await remoteWithClones(['cloud', 'local']);
  const events: Array<{ kind: string; message: string }> = [];
  const victimDir = clones.local!.dir;
  const victim = new VaultRepo({
    root: victimDir,
    agent: 'local',
    sweepExclude: ['Approved', 'Rejected'],
    onEvent: (e) => events.push(e),
    ...victimOptions,
  });
  // A canary outside the vault: its content must never reach the remote.
  const outside = join(root, 'outside');
  await mkdir(outside);
  const canary = `CANARY-${randomBytes(12).toString('hex')}`;
  await writeFile(join(outside, 'canary.md'), `${canary}\n`);
  // The victim's own work, committed locally and not yet pushed.
  await mkdir(join(victimDir, 'Plans/files'), { recursive: true });
  await writeFile(join(victimDir, 'Plans/files/mine.md'), 'local work\n');
  await victim.commit('local: note mine');
  return { root, remote, attacker: clones.cloud!.dir, victim, victimDir, events, outside, canary };
}

/** Every object of the bare remote, contents included. */
async function remoteObjects(remote: string): Promise<string> {
  return git(remote, 'cat-file', '--batch-all-objects', '--batch');
}

async function expectRefusedThenFixed(
  ctx: Awaited<ReturnType<typeof setup>>,
  reason: RegExp,
  remove: string[],
): Promise<SyncReport> {
  const head = (await git(ctx.victimDir, 'rev-parse', 'HEAD')).trim();
  const refused = await ctx.victim.sync();
  expect(refused.state).toBe('refused');
  expect(refused.remoteRefused?.reason).toMatch(reason);
  expect(refused.pushed).toBe(0);
  // Stays on its last good commit; its local commit is kept.
  expect((await git(ctx.victimDir, 'rev-parse', 'HEAD')).trim()).not.toBe('');
  expect(await isAncestor(ctx.victimDir, head, 'HEAD')).toBe(true);
  expect(await git(ctx.victimDir, 'log', '--format=%s')).toContain('local: note mine');
  expect(existsSync(join(ctx.victimDir, '.git', 'rebase-merge'))).toBe(false);
  expect(existsSync(join(ctx.victimDir, '.git', 'MERGE_HEAD'))).toBe(false);
  // Audited once, not every pass; the status says why.
  const again = await ctx.victim.sync();
  expect(again.remoteRefused?.reason).toBe(refused.remoteRefused?.reason);
  const records = (await new AuditLog(ctx.victimDir).read(new Date())).filter(
    (r) => r.action_type === 'remote_refused',
  );
  expect(records).toHaveLength(1);
  expect(ctx.events.filter((e) => e.kind === 'remote_refused')).toHaveLength(1);
  const status = await runFte(['status', '--vault', ctx.victimDir]);
  expect(status.stdout).toMatch(/^remote refused: /m);
  expect(status.stdout).toMatch(reason);
  const asJson = await runFte(['status', '--vault', ctx.victimDir, '--json']);
  expect(Array.isArray(JSON.parse(asJson.stdout))).toBe(true);
  expect(asJson.stderr).toMatch(/^fte status: remote refused: /m);
  expect(asJson.stderr).toMatch(reason);
  // Work goes on locally meanwhile.
  await writeFile(join(ctx.victimDir, 'Plans/files/meanwhile.md'), 'still working\n');
  expect((await ctx.victim.sync()).state).toBe('refused');

  // The remote is fixed by a commit on top: the next pass takes it and delivers the local work.
  await attackerFix(ctx.attacker, remove);
  const fixed = await ctx.victim.sync();
  expect(fixed.state).toBe('synced');
  expect(fixed.remoteRefused).toBeUndefined();
  expect(fixed.pushed).toBeGreaterThan(0);
  const tree = await git(ctx.remote, 'ls-tree', '-r', '--name-only', 'main');
  expect(tree).toContain('Plans/files/mine.md');
  expect(tree).toContain('Plans/files/meanwhile.md');
  expect((await runFte(['status', '--vault', ctx.victimDir])).stdout).not.toMatch(/remote refused/);
  for (const [older, newer] of await refUpdates(ctx.remote)) {
    expect(await isAncestor(ctx.remote, older, newer)).toBe(true);
  }
  return fixed;
}

describe('paths git or fte refuses', () => {
  it('knows every spelling of .git, control characters, bad UTF-8 and traversal', () => {
    const bad = [
      '.git/config',
      '.GIT/hooks/x',
      'a/.Git/x',
      '.git ',
      '.git./x',
      '.git . .',
      '.git::$INDEX_ALLOCATION/x',
      'git~1/config',
      'GIT~1',
      '.g\u200cit/config',
      '\ufeff.git/x',
      'a/../b',
      './a',
      'a//b',
      '/abs',
      'a\\b',
      'a\nb',
      'a\u0001b',
      'tab\there',
    ];
    for (const path of bad) expect(pathProblem(Buffer.from(path)), path).toBeDefined();
    expect(pathProblem(Buffer.from([0x61, 0xff, 0x62]))).toMatch(/UTF-8/);
    expect(pathProblem(Buffer.from('x'.repeat(5000)))).toMatch(/longer/);
    for (const ok of [
      'Needs_Action/email/E1.md',
      '.gitignore',
      '.gitattributes',
      'gitx',
      '.github/x',
      'Notes/Café ☕.md',
      'a.git',
    ]) {
      expect(pathProblem(Buffer.from(ok)), ok).toBeUndefined();
    }
  });
});

describe('a hostile remote cannot stop the laptop', () => {
  it('refuses a commit with .git/config (made with mktree), keeps local work and pushes it once fixed', async () => {
    const ctx = await setup();
    const evil = await blob(ctx.attacker, '[core]\n\tfsmonitor = "touch /tmp/pwned"\n');
    await attackerPush(ctx.attacker, [{ path: '.git/config', mode: '100644', oid: evil }], 'cloud: evil');
    await expectRefusedThenFixed(ctx, /\.git component.*\.git\/config/, ['.git']);
    expect(existsSync(join(ctx.victimDir, '.git', 'config'))).toBe(true);
    expect(await git(ctx.victimDir, 'config', '--get', 'core.fsmonitor').catch(() => '')).toBe('');
  }, 60_000);

  it('a claim while the remote is refused claims nothing and says why', async () => {
    const ctx = await setup();
    await writeFile(join(ctx.attacker, 'Needs_Action/email/E5.md'), '---\ntype: email\n---\n');
    await git(ctx.attacker, 'add', '-A');
    await git(ctx.attacker, '-c', 'user.name=c', '-c', 'user.email=c@x', 'commit', '-qm', 'cloud: add E5');
    await git(ctx.attacker, 'push', '-q', 'origin', 'HEAD:main');
    expect((await ctx.victim.sync()).state).toBe('synced');
    const evil = await blob(ctx.attacker, 'x');
    await attackerPush(
      ctx.attacker,
      [{ path: '.git/hooks/pre-commit', mode: '100755', oid: evil }],
      'cloud: evil',
    );
    const outcome = await ctx.victim.claim('E5');
    expect(outcome).toMatchObject({
      result: 'offline',
      error: expect.stringMatching(/^remote refused: .*\.git component/),
    });
    expect(existsSync(join(ctx.victimDir, 'Needs_Action/email/E5.md'))).toBe(true);
    expect(existsSync(join(ctx.victimDir, 'In_Progress/local/E5.md'))).toBe(false);
    expect(await git(ctx.victimDir, 'status', '--porcelain')).toBe('');
    const subjects = await git(ctx.victimDir, 'log', '--format=%s');
    expect(subjects).not.toContain('local: claim E5');
    expect(subjects).toMatch(/^local: remote_refused /m);
    const cli = await runFte(['claim', 'E5', '--vault', ctx.victimDir, '--agent', 'local']);
    expect(cli.code).toBe(75);
    expect(cli.stderr).toMatch(/nothing claimed: remote refused: /);
  }, 60_000);

  it('refuses .GIT/hooks/x and the NTFS short name git~1', async () => {
    const ctx = await setup();
    const hook = await blob(ctx.attacker, '#!/bin/sh\ntouch /tmp/pwned\n');
    await attackerPush(
      ctx.attacker,
      [{ path: '.GIT/hooks/post-checkout', mode: '100755', oid: hook }],
      'cloud: hook',
    );
    await expectRefusedThenFixed(ctx, /\.git component.*\.GIT\/hooks/, ['.GIT']);
    await attackerPush(ctx.attacker, [{ path: 'GIT~1/hooks/x', mode: '100755', oid: hook }], 'cloud: short');
    const report = await ctx.victim.sync();
    expect(report.remoteRefused?.reason).toMatch(/git~1/);
  }, 60_000);

  it('refuses a submodule gitlink', async () => {
    const ctx = await setup();
    const head = (await git(ctx.attacker, 'rev-parse', 'HEAD')).trim();
    await attackerPush(ctx.attacker, [{ path: 'Plans/sub', mode: '160000', oid: head }], 'cloud: submodule');
    await expectRefusedThenFixed(ctx, /submodule \(gitlink\) at "Plans\/sub"/, ['Plans/sub']);
  }, 60_000);

  it('refuses a 30 MB file (limit 25 MB) without checking it out', async () => {
    const ctx = await setup();
    const big = await blob(ctx.attacker, randomBytes(30 * 1024 * 1024));
    await attackerPush(ctx.attacker, [{ path: 'Inbox/big.bin', mode: '100644', oid: big }], 'cloud: big');
    await expectRefusedThenFixed(
      ctx,
      /a file of 31457280 bytes, more than the limit of 26214400: "Inbox\/big.bin"/,
      ['Inbox/big.bin'],
    );
  }, 120_000);

  it('refuses a tree with more files than the limit, and too many new commits at once', async () => {
    const ctx = await setup({ limits: { maxFiles: 500, maxNewCommits: 20 } });
    const one = await blob(ctx.attacker, 'x\n');
    const plants = Array.from({ length: 600 }, (_, i) => ({
      path: `Inbox/flood/f${i}.md`,
      mode: '100644',
      oid: one,
    }));
    await attackerPush(ctx.attacker, plants, 'cloud: flood');
    await expectRefusedThenFixed(ctx, /more than 500 files/, ['Inbox/flood']);

    for (let i = 0; i < 25; i++) {
      await attackerPush(
        ctx.attacker,
        [{ path: `Inbox/c${i}.md`, mode: '100644', oid: one }],
        `cloud: c${i}`,
      );
    }
    const report = await ctx.victim.sync();
    expect(report.remoteRefused?.reason).toMatch(/25 new commits at once, more than the limit of 20/);
  }, 120_000);

  it('refuses a .gitattributes that would run a filter program on checkout', async () => {
    const ctx = await setup();
    const attrs = await blob(ctx.attacker, '* filter=lfs diff=lfs merge=lfs -text\n');
    await attackerPush(
      ctx.attacker,
      [{ path: 'Inbox/.gitattributes', mode: '100644', oid: attrs }],
      'cloud: attrs',
    );
    await expectRefusedThenFixed(ctx, /filter driver/, ['Inbox/.gitattributes']);
  }, 60_000);

  it('refuses a commit that would overwrite a local ignored file (.env)', async () => {
    const ctx = await setup();
    await writeFile(join(ctx.victimDir, '.env'), 'SMTP_PASSWORD=mine\n');
    const env = await blob(ctx.attacker, 'SMTP_PASSWORD=theirs\n');
    await attackerPush(ctx.attacker, [{ path: '.env', mode: '100644', oid: env }], 'cloud: env');
    await expectRefusedThenFixed(ctx, /overwrite the local ignored file "\.env"/, ['.env']);
    const { readFile } = await import('node:fs/promises');
    expect(await readFile(join(ctx.victimDir, '.env'), 'utf8')).toBe('SMTP_PASSWORD=mine\n');
  }, 60_000);

  it('quarantines symlinks (to /etc/passwd, to a file and a folder outside, Approved/ replaced by one) without ever reading them', async () => {
    const ctx = await setup();
    const attacker = ctx.attacker;
    await symlink('/etc/passwd', join(attacker, 'Plans/files/passwd.md'));
    await symlink(join(ctx.outside, 'canary.md'), join(attacker, 'Plans/files/canary.md'));
    await symlink(ctx.outside, join(attacker, 'Plans/outside'));
    await git(attacker, 'rm', '-q', '-r', 'Approved');
    await rm(join(attacker, 'Approved'), { recursive: true, force: true });
    await symlink(ctx.outside, join(attacker, 'Approved'));
    await git(attacker, 'add', '-A');
    await git(attacker, '-c', 'user.name=evil', '-c', 'user.email=evil@x', 'commit', '-qm', 'cloud: links');
    await git(attacker, 'push', '-q', 'origin', 'HEAD:main');

    const report = await ctx.victim.sync();
    expect(report.state).toBe('synced');
    const links = ['Approved', 'Plans/outside', 'Plans/files/canary.md', 'Plans/files/passwd.md'];
    expect([...(report.quarantinedLinks ?? [])].sort()).toEqual([...links].sort());
    for (const path of links) {
      expect(() => lstatSync(join(ctx.victimDir, path))).toThrow(/ENOENT/);
    }
    expect(await git(ctx.victimDir, 'ls-files', '-s')).not.toMatch(/^120000/m);
    const subjects = await git(ctx.victimDir, 'log', '--format=%s');
    for (const path of links) expect(subjects).toContain(`local: quarantine ${path}`);
    const records = (await new AuditLog(ctx.victimDir).read(new Date())).filter(
      (r) => r.action_type === 'link_quarantined',
    );
    expect(records.map((r) => [r.target, r.parameters.link_target]).sort()).toEqual(
      [
        ['Approved', ctx.outside],
        ['Plans/outside', ctx.outside],
        ['Plans/files/canary.md', join(ctx.outside, 'canary.md')],
        ['Plans/files/passwd.md', '/etc/passwd'],
      ].sort(),
    );
    // The canary outside was never touched, and the remote ends with no link and the local work.
    expect(existsSync(join(ctx.outside, 'canary.md'))).toBe(true);
    expect(await git(ctx.remote, 'ls-tree', '-r', 'main')).not.toMatch(/^120000/m);
    expect(await git(ctx.remote, 'ls-tree', '-r', '--name-only', 'main')).toContain('Plans/files/mine.md');
    // Later commits (the executor writing into a real Approved/) work.
    await mkdir(join(ctx.victimDir, 'Plans/files'), { recursive: true });
    await writeFile(join(ctx.victimDir, 'Plans/files/after.md'), 'after\n');
    expect((await ctx.victim.sync()).state).toBe('synced');
    const objects = await remoteObjects(ctx.remote);
    expect(objects).not.toContain(ctx.canary);
    expect(objects).not.toMatch(/^root:.*:0:0:/m);
  }, 60_000);

  it('a checkout git cannot do (local untracked files in the way) ends as refused, never half-merged', async () => {
    const ctx = await setup();
    // The owner's new decision, untracked (the executor keeps Approved/ out of the sweep).
    await writeFile(join(ctx.victimDir, 'Approved/E9.md'), 'owner decision\n');
    const theirs = await blob(ctx.attacker, 'remote version\n');
    await attackerPush(
      ctx.attacker,
      [{ path: 'Approved/E9.md', mode: '100644', oid: theirs }],
      'cloud: clash',
    );
    const head = (await git(ctx.victimDir, 'rev-parse', 'HEAD')).trim();
    const report = await ctx.victim.sync();
    expect(report.state).toBe('refused');
    expect(report.remoteRefused?.reason).toMatch(
      /git could not check it out here: .*untracked working tree files would be overwritten/,
    );
    // Still on its own history (plus the audit record of the refusal), the remote's commit not merged.
    expect(await isAncestor(ctx.victimDir, head, 'HEAD')).toBe(true);
    expect(await isAncestor(ctx.victimDir, 'origin/main', 'HEAD')).toBe(false);
    expect(await git(ctx.victimDir, 'log', '--format=%s', `${head}..HEAD`)).toMatch(
      /^local: remote_refused \w+\n$/,
    );
    expect(await git(ctx.victimDir, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main\n');
    expect(await git(ctx.victimDir, 'status', '--porcelain', '--untracked-files=no')).toBe('');
    expect(existsSync(join(ctx.victimDir, '.git', 'rebase-merge'))).toBe(false);
    const { readFile } = await import('node:fs/promises');
    expect(await readFile(join(ctx.victimDir, 'Approved/E9.md'), 'utf8')).toBe('owner decision\n');
    expect((await runFte(['status', '--vault', ctx.victimDir])).stdout).toMatch(
      /remote refused: git could not check it out/,
    );
    // Once the obstacle is gone (the executor took the decision in), the next pass merges.
    await rm(join(ctx.victimDir, 'Approved/E9.md'));
    const next = await ctx.victim.sync();
    expect(next.state).toBe('synced');
    expect((await runFte(['status', '--vault', ctx.victimDir])).stdout).not.toMatch(/remote refused/);
  }, 60_000);

  it('a force-pushed rewritten history is reported and every local commit is kept and pushed on top', async () => {
    const ctx = await setup();
    // History both sides share first.
    await writeFile(join(ctx.attacker, 'Plans/files/shared.md'), 'shared\n');
    await git(ctx.attacker, 'add', '-A');
    await git(ctx.attacker, '-c', 'user.name=c', '-c', 'user.email=c@x', 'commit', '-qm', 'cloud: shared');
    await git(ctx.attacker, 'push', '-q', 'origin', 'HEAD:main');
    expect((await ctx.victim.sync()).state).toBe('synced');
    await writeFile(join(ctx.victimDir, 'Plans/files/unpushed.md'), 'not yet pushed\n');
    await ctx.victim.commit('local: note unpushed');
    // The attacker rewrites: back to the first commit, a different commit, force-pushed.
    const root = (await git(ctx.attacker, 'rev-list', '--max-parents=0', 'HEAD')).trim();
    await git(ctx.attacker, 'fetch', '-q', 'origin');
    await git(ctx.attacker, 'reset', '-q', '--hard', root);
    await writeFile(join(ctx.attacker, 'Plans/files/rewritten.md'), 'new history\n');
    await git(ctx.attacker, 'add', '-A');
    await git(ctx.attacker, '-c', 'user.name=c', '-c', 'user.email=c@x', 'commit', '-qm', 'cloud: rewritten');
    await git(ctx.attacker, 'push', '-q', '--force', 'origin', 'HEAD:main');
    const forced = (await git(ctx.remote, 'rev-parse', 'main')).trim();

    const report = await ctx.victim.sync();
    expect(report.state).toBe('synced');
    expect(report.historyRewritten).toMatchObject({ to: forced });
    expect(report.historyRewritten?.replayed).toBeGreaterThanOrEqual(2);
    const tree = await git(ctx.remote, 'ls-tree', '-r', '--name-only', 'main');
    for (const path of ['Plans/files/mine.md', 'Plans/files/unpushed.md', 'Plans/files/rewritten.md']) {
      expect(tree).toContain(path);
    }
    // Our push went on top of the rewritten history (no force push of ours).
    expect(await isAncestor(ctx.remote, forced, 'main')).toBe(true);
    const records = await new AuditLog(ctx.victimDir).read(new Date());
    expect(records.some((r) => r.action_type === 'remote_history_rewritten')).toBe(true);
    expect((await runFte(['status', '--vault', ctx.victimDir])).stdout).toMatch(/remote history rewritten/);
  }, 60_000);

  it('a 60 MB pack is fetched despite a low stall timeout, then refused by size; the laptop keeps working', async () => {
    const ctx = await setup({ stallTimeoutMs: 1_000, limits: { maxBlobBytes: 25 * 1024 * 1024 } });
    const big = await blob(ctx.attacker, randomBytes(60 * 1024 * 1024));
    await attackerPush(ctx.attacker, [{ path: 'Inbox/huge.bin', mode: '100644', oid: big }], 'cloud: huge');
    const reports: SyncReport[] = [];
    let lastPassMs = 0;
    for (let pass = 0; pass < 6; pass++) {
      const started = Date.now();
      const report = await ctx.victim.sync();
      lastPassMs = Date.now() - started;
      reports.push(report);
      if (report.state === 'refused') break;
      expect(report.state).toBe('offline');
      expect(report.error).toMatch(/no progress/);
    }
    const last = reports.at(-1)!;
    expect(last.state, JSON.stringify(reports.map((r) => r.error ?? r.state))).toBe('refused');
    expect(last.remoteRefused?.reason).toMatch(/more than the limit/);
    // The fetch that got it ran longer than the stall timeout: a fixed timeout that low would have killed it.
    expect(lastPassMs).toBeGreaterThan(1_000);
    // The next pass does not fetch it again, nor check it again: git's own trace of that pass (a new
    // VaultRepo on the clone, its git processes started with GIT_TRACE) shows a fetch that brought no
    // pack and no listing of the refused tip's tree.
    const trace = join(ctx.root, 'git-trace.log');
    process.env.GIT_TRACE = trace;
    let again: VaultRepo;
    try {
      again = new VaultRepo({
        root: ctx.victimDir,
        agent: 'local',
        sweepExclude: ['Approved', 'Rejected'],
        stallTimeoutMs: 1_000,
        limits: { maxBlobBytes: 25 * 1024 * 1024 },
      });
    } finally {
      delete process.env.GIT_TRACE;
    }
    expect((await again.sync()).state).toBe('refused');
    const traced = await readFile(trace, 'utf8');
    expect(traced).toMatch(/built-in: git .*\bfetch\b/);
    expect(traced).not.toMatch(/index-pack|unpack-objects/);
    expect(traced).not.toContain(`ls-tree -r -z -l --full-tree ${last.remoteRefused?.commit}`);
    expect(existsSync(join(ctx.victimDir, 'Inbox/huge.bin'))).toBe(false);
  }, 180_000);
});
