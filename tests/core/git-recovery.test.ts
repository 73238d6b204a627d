import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VaultRepo } from '../../core/vault-repo.js';
import { CLI } from '../helpers/cli.js';
import { git, remoteWithClones } from '../helpers/vaults.js';

const ID = (i: number) => `EMAIL_${String(i).padStart(4, '0')}`;

async function note(dir: string, name: string, text = `note ${name}\n`): Promise<string> {
  const path = `Plans/files/${name}.md`;
  await mkdir(join(dir, 'Plans/files'), { recursive: true });
  await writeFile(join(dir, path), text);
  return path;
}

async function expectClean(dir: string): Promise<void> {
  for (const leftover of ['rebase-merge', 'rebase-apply', 'MERGE_HEAD', 'CHERRY_PICK_HEAD', 'index.lock']) {
    expect(existsSync(join(dir, '.git', leftover)), leftover).toBe(false);
  }
  expect(await git(dir, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main\n');
  expect(await git(dir, 'diff', '--cached', '--name-only')).toBe('');
}

/** Two clones whose Dashboard.md edits conflict: local's commit is unpushed, cloud's is on the remote. */
async function conflicting() {
  const { remote, clones } = await remoteWithClones(['cloud', 'local']);
  const cloud = clones.cloud!;
  const local = clones.local!;
  await writeFile(join(cloud.dir, 'Dashboard.md'), 'cloud version\n');
  await cloud.repo.commit('cloud: edit dashboard');
  await cloud.repo.sync();
  await writeFile(join(local.dir, 'Dashboard.md'), 'local version\n');
  await local.repo.commit('local: edit dashboard');
  await git(local.dir, 'fetch', '-q', 'origin');
  return { remote, cloud, local };
}

describe('a clone left behind by a killed process is repaired by the next operation', () => {
  it('stale git locks (index, HEAD, a branch ref) are removed; nothing else is lost', async () => {
    const { remote, clones } = await remoteWithClones(['local']);
    const dir = clones.local!.dir;
    const past = new Date(Date.now() - 60_000);
    for (const lock of ['index.lock', 'HEAD.lock', 'refs/heads/main.lock']) {
      await writeFile(join(dir, '.git', lock), '');
      await utimes(join(dir, '.git', lock), past, past);
    }
    await note(dir, 'after-crash');
    const report = await new VaultRepo({ root: dir, agent: 'local' }).sync();
    expect(report).toMatchObject({ state: 'synced', pushed: 1 });
    expect(await git(remote, 'ls-tree', '-r', '--name-only', 'main')).toContain('Plans/files/after-crash.md');
    await expectClean(dir);
  });

  it("a file torn by a checkout killed mid-write (the start of the remote's version) is never committed", async () => {
    const { remote, clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    const path = await note(cloud.dir, 'long', `${'first version of a long note\n'.repeat(50)}`);
    await cloud.repo.commit('cloud: long note');
    await cloud.repo.sync();
    await local.repo.sync();
    const full = `${'second version, longer still\n'.repeat(80)}`;
    await writeFile(join(cloud.dir, path), full);
    await cloud.repo.commit('cloud: long note v2');
    await cloud.repo.sync();
    // What a kill inside `git merge --ff-only` leaves: the remote's commit fetched, the file half written,
    // the index lock behind, HEAD not moved.
    await git(local.dir, 'fetch', '-q', 'origin');
    await writeFile(join(local.dir, path), full.slice(0, 700));
    const past = new Date(Date.now() - 60_000);
    await writeFile(join(local.dir, '.git', 'index.lock'), '');
    await utimes(join(local.dir, '.git', 'index.lock'), past, past);

    const report = await new VaultRepo({ root: local.dir, agent: 'local' }).sync();
    expect(report.state).toBe('synced');
    // Not a conflict with "our" torn copy, kept beside it: there was no work of ours.
    expect(report.conflicts).toEqual([]);
    expect(await git(remote, 'ls-tree', '-r', '--name-only', 'main')).not.toMatch(/conflict-/);
    expect(await readFile(join(local.dir, path), 'utf8')).toBe(full);
    const versions = await git(remote, 'log', '--format=%s', 'main', '--', path);
    expect(versions.trim().split('\n')).toEqual(['cloud: long note v2', 'cloud: long note']);
    await expectClean(local.dir);
  });

  it('a repair killed after it removed the evidence of a half checkout (the lock, the staged index) still puts the files back next time', async () => {
    // Found by the kill test: the repair unstaged (or removed the stale lock), was killed before it put
    // the remote's files back, and the next repair saw a clean index: the cloud swept the remote's
    // Dashboard.md as its own edit, and a later rebase kept both versions.
    const { remote, clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    const path = await note(cloud.dir, 'status', 'v1\n');
    await cloud.repo.commit('cloud: status v1');
    await cloud.repo.sync();
    await local.repo.sync();
    for (const v of ['v2', 'v3']) {
      await writeFile(join(cloud.dir, path), `${v}\n`);
      await cloud.repo.commit(`cloud: status ${v}`);
    }
    await cloud.repo.sync();
    // Local: a checkout of v3 killed after writing the file and the index, not HEAD; then a repair that
    // recorded what it found, unstaged, and was killed before it put the file back.
    await git(local.dir, 'fetch', '-q', 'origin');
    await writeFile(join(local.dir, path), 'v3\n');
    await writeFile(join(local.dir, '.git', 'fte-half-checkout'), 'staged\n');
    // The remote moves on before local syncs again.
    await writeFile(join(cloud.dir, path), 'v4\n');
    await cloud.repo.commit('cloud: status v4');
    await cloud.repo.sync();

    const report = await new VaultRepo({ root: local.dir, agent: 'local' }).sync();
    expect(report.state).toBe('synced');
    expect(report.conflicts).toEqual([]);
    expect(await readFile(join(local.dir, path), 'utf8')).toBe('v4\n');
    const authors = await git(remote, 'log', '--format=%s', 'main', '--', path);
    expect(authors.trim().split('\n')).toEqual([
      'cloud: status v4',
      'cloud: status v3',
      'cloud: status v2',
      'cloud: status v1',
    ]);
    expect(existsSync(join(local.dir, '.git', 'fte-half-checkout'))).toBe(false);
    await expectClean(local.dir);
  });

  it('a claim killed in its git add while origin/main is ahead yields to the remote owner, leaving no second copy', async () => {
    // Found by the claim model (tests/property/claims.model.test.ts): the repair took the claim's move for
    // a half checkout, put Needs_Action/ back and left the moved copy untracked; the next sync committed
    // it beside the other agent's claim, so the item was owned twice.
    const { remote, clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    await mkdir(join(cloud.dir, 'Needs_Action/email'), { recursive: true });
    await writeFile(join(cloud.dir, 'Needs_Action/email/E9.md'), '---\ntype: email\n---\n\nhi\n');
    await cloud.repo.commit('cloud: add E9');
    await cloud.repo.sync();
    await local.repo.sync();
    expect((await cloud.repo.claim('E9')).result).toBe('won');
    // Local: a sync killed after its fetch (origin/main ahead of HEAD), then a claim killed in `git add`.
    await git(local.dir, 'fetch', '-q', 'origin');
    await mkdir(join(local.dir, 'In_Progress/local'), { recursive: true });
    await rename(join(local.dir, 'Needs_Action/email/E9.md'), join(local.dir, 'In_Progress/local/E9.md'));
    const past = new Date(Date.now() - 60_000);
    await writeFile(join(local.dir, '.git', 'index.lock'), '');
    await utimes(join(local.dir, '.git', 'index.lock'), past, past);

    const report = await new VaultRepo({ root: local.dir, agent: 'local' }).sync();
    expect(report.state).toBe('synced');
    expect(report.lostClaims).toEqual(['E9']);
    const tree = (await git(remote, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
    expect(tree.filter((p) => p.endsWith('/E9.md'))).toEqual(['In_Progress/cloud/E9.md']);
    expect(existsSync(join(local.dir, 'In_Progress/local/E9.md'))).toBe(false);
    expect(existsSync(join(local.dir, 'Needs_Action/email/E9.md'))).toBe(false);
    await expectClean(local.dir);
  });

  it('a stale lock of fte itself (its holder is dead) is taken over', async () => {
    const { clones } = await remoteWithClones(['local']);
    const dir = clones.local!.dir;
    // A pid that is certainly not running: a child that already exited.
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => child.on('exit', resolve));
    await writeFile(join(dir, '.git', 'fte', 'lock'), `${child.pid}\n`);
    await note(dir, 'x');
    expect((await new VaultRepo({ root: dir, agent: 'local' }).sync()).state).toBe('synced');
    expect(existsSync(join(dir, '.git', 'fte', 'lock'))).toBe(false);
  });

  it('a rebase stopped half-way (conflict) is aborted and done again properly, keeping both versions', async () => {
    const { remote, local } = await conflicting();
    await git(local.dir, 'rebase', 'origin/main').catch(() => undefined);
    expect(existsSync(join(local.dir, '.git', 'rebase-merge'))).toBe(true);
    const report = await new VaultRepo({ root: local.dir, agent: 'local' }).sync();
    expect(report.state).toBe('synced');
    expect(report.conflicts).toHaveLength(1);
    await expectClean(local.dir);
    expect(await readFile(join(local.dir, report.conflicts[0]!), 'utf8')).toBe('local version\n');
    expect(await git(remote, 'ls-tree', '-r', '--name-only', 'main')).toContain(report.conflicts[0]!);
  });

  it('a merge stopped half-way (MERGE_HEAD) is aborted; commits and syncs work', async () => {
    const { local } = await conflicting();
    await git(local.dir, 'merge', 'origin/main').catch(() => undefined);
    expect(existsSync(join(local.dir, '.git', 'MERGE_HEAD'))).toBe(true);
    const repo = new VaultRepo({ root: local.dir, agent: 'local' });
    await note(local.dir, 'during-merge');
    expect((await repo.commit('local: note during-merge')).committed).toBe(true);
    expect((await repo.sync()).state).toBe('synced');
    await expectClean(local.dir);
  });

  it('a cherry-pick stopped half-way is aborted; a claim works', async () => {
    const { remote, cloud, local } = await conflicting();
    await writeFile(join(cloud.dir, 'Needs_Action/email/E1.md'), '---\ntype: email\n---\n');
    await cloud.repo.commit('cloud: add E1');
    await cloud.repo.sync();
    await git(local.dir, 'fetch', '-q', 'origin');
    await git(local.dir, 'reset', '-q', '--hard', 'origin/main');
    await git(local.dir, 'cherry-pick', 'HEAD@{1}').catch(() => undefined);
    expect(existsSync(join(local.dir, '.git', 'CHERRY_PICK_HEAD'))).toBe(true);
    const outcome = await new VaultRepo({ root: local.dir, agent: 'local' }).claim('E1');
    expect(outcome).toEqual({ result: 'won', path: 'In_Progress/local/E1.md' });
    expect(await git(remote, 'ls-tree', '-r', '--name-only', 'main')).toContain('In_Progress/local/E1.md');
    await expectClean(local.dir);
  });

  it('killed between git add and git commit of a claim: the claim is committed as a claim and pushed', async () => {
    const { remote, clones } = await remoteWithClones(['local']);
    const { dir, repo } = clones.local!;
    await writeFile(join(dir, 'Needs_Action/email/E2.md'), '---\ntype: email\n---\n');
    await repo.commit('cloud: add E2');
    await repo.sync();
    await mkdir(join(dir, 'In_Progress/local'), { recursive: true });
    await rename(join(dir, 'Needs_Action/email/E2.md'), join(dir, 'In_Progress/local/E2.md'));
    await git(dir, 'add', '--all', '--', 'Needs_Action/email/E2.md', 'In_Progress/local/E2.md');
    const report = await new VaultRepo({ root: dir, agent: 'local' }).sync();
    expect(report).toMatchObject({ state: 'synced', pushed: 1 });
    expect(await git(remote, 'log', '-1', '--format=%s', 'main')).toBe('local: claim E2\n');
    const tree = await git(remote, 'ls-tree', '-r', '--name-only', 'main');
    expect(tree).toContain('In_Progress/local/E2.md');
    expect(tree).not.toContain('Needs_Action/email/E2.md');
    await expectClean(dir);
  });

  it('a staged deletion (gone from index and tree) no longer fails the commit with "pathspec did not match"', async () => {
    const { remote, clones } = await remoteWithClones(['local']);
    const { dir, repo } = clones.local!;
    const path = await note(dir, 'doomed');
    await repo.commit('local: note doomed', [path]);
    // Same process, recovery already done: `git rm` leaves the deletion staged and the file gone.
    await git(dir, 'rm', '-q', path);
    const fresh = await note(dir, 'fresh');
    expect(await repo.commit('local: tidy', [path, fresh])).toMatchObject({ committed: true });
    expect(await git(dir, 'show', '--name-status', '--format=', 'HEAD')).toBe(`D\t${path}\nA\t${fresh}\n`);
    expect((await repo.sync()).state).toBe('synced');
    expect(await git(remote, 'ls-tree', '-r', '--name-only', 'main')).not.toContain(path);
  });

  it("killed inside a fast-forward (some of the remote files written, HEAD and index not moved): the files are the remote's, never committed as ours", async () => {
    const { remote, clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    const added = await note(cloud.dir, 'from-cloud', 'written by the cloud\n');
    await mkdir(join(cloud.dir, 'Approved'), { recursive: true });
    await writeFile(join(cloud.dir, 'Approved/EMAIL_X.md'), '---\nstatus: pending\n---\n\nnot signed\n');
    await rm(join(cloud.dir, 'Company_Handbook.md'));
    await cloud.repo.commit('cloud: notes');
    await cloud.repo.sync();
    // What a SIGKILL inside `git merge --ff-only origin/main` leaves behind.
    await git(local.dir, 'fetch', '-q', 'origin');
    await mkdir(join(local.dir, 'Plans/files'), { recursive: true });
    await writeFile(join(local.dir, added), 'written by the cloud\n');
    await writeFile(join(local.dir, 'Approved/EMAIL_X.md'), '---\nstatus: pending\n---\n\nnot signed\n');
    await rm(join(local.dir, 'Company_Handbook.md'));
    await writeFile(join(local.dir, '.git/index.lock'), '');
    const old = new Date(Date.now() - 60_000);
    await utimes(join(local.dir, '.git/index.lock'), old, old);

    const fresh = new VaultRepo({ root: local.dir, agent: 'local', sweepExclude: ['Approved'] });
    const report = await fresh.sync();
    expect(report.state).toBe('synced');
    expect(report.pushed).toBe(0);
    await expectClean(local.dir);
    expect((await git(local.dir, 'rev-parse', 'HEAD')).trim()).toBe(
      (await git(remote, 'rev-parse', 'main')).trim(),
    );
    expect(await git(local.dir, 'status', '--porcelain')).toBe('');
    expect(await git(remote, 'log', '--format=%s', 'main')).not.toMatch(/^local: /m);
  });

  it('the temp file of an atomic write a kill interrupted is removed, never committed', async () => {
    const { remote, clones } = await remoteWithClones(['local']);
    const local = clones.local!;
    const temp = join(local.dir, 'Approved/.0123456789ab.tmp');
    await writeFile(temp, '---\nstatus: approved\n');
    const old = new Date(Date.now() - 60_000);
    await utimes(temp, old, old);
    const report = await new VaultRepo({ root: local.dir, agent: 'local' }).sync();
    expect(report.state).toBe('synced');
    expect(existsSync(temp)).toBe(false);
    expect(await git(remote, 'ls-tree', '-r', '--name-only', 'main')).not.toMatch(/\.tmp$/m);
  });

  it('SIGKILLed at random points (fte sync and fte claim with their git children): the next pass repairs and loses nothing', async () => {
    const { remote, clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    const ids = Array.from({ length: 40 }, (_, i) => ID(i));
    for (const id of ids)
      await writeFile(join(cloud.dir, `Needs_Action/email/${id}.md`), `---\ntype: email\n---\n${id}\n`);
    await cloud.repo.commit('cloud: add items');
    await cloud.repo.sync();
    await local.repo.sync();

    const written: string[] = [];
    let killed = 0;
    for (let round = 0; round < 16; round++) {
      // New work each round, and a remote that moves, so sync has add, commit, fetch, rebase and push to do.
      for (let n = 0; n < 30; n++)
        written.push(await note(local.dir, `r${round}-${n}`, `round ${round} ${n}\n`));
      await note(cloud.dir, `cloud-${round}`);
      await cloud.repo.sync();
      const args =
        round % 2 === 0
          ? ['sync', '--once', '--vault', local.dir, '--agent', 'local']
          : ['claim', ids[round] as string, '--vault', local.dir, '--agent', 'local'];
      const child = spawn(process.execPath, [CLI, ...args], { detached: true, stdio: 'ignore' });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, 60 + ((round * 37) % 300)));
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
        killed++;
      } catch {
        // Already finished.
      }
      await exited;
    }
    expect(killed).toBeGreaterThan(0);

    const repo = new VaultRepo({ root: local.dir, agent: 'local' });
    const report = await repo.sync();
    expect(report.state, report.error).toBe('synced');
    await expectClean(local.dir);
    expect(await git(local.dir, 'status', '--porcelain')).toBe('');
    await git(local.dir, 'fsck', '--no-dangling');
    const tree = (await git(remote, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
    for (const path of written) expect(tree).toContain(path);
    // Every item is in exactly one place: still waiting, or claimed by local.
    for (const id of ids) {
      const places = tree.filter((p) => p.endsWith(`/${id}.md`));
      expect(places, id).toHaveLength(1);
      expect(places[0]).toMatch(/^(Needs_Action\/email|In_Progress\/local)\//);
    }
    await rm(join(local.dir, 'Plans/files'), { recursive: true, force: true });
  }, 180_000);
});
