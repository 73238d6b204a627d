import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keepStashedVersions } from '../../core/git/autostash.js';
import { Git } from '../../core/git.js';
import { VaultRepo } from '../../core/vault-repo.js';
import { git, remoteWithClones, tempDir } from '../helpers/vaults.js';

const APPROVED = 'Approved/EMAIL_B.md';
const SIGNED = '---\ntype: approval_request\nto: client@example.com\nstatus: approved\n---\n\nhi\n';
const TAMPERED = '---\ntype: approval_request\nto: evil@example.com\nstatus: approved\n---\n\nhi\n';

/**
 * The laptop leaves the owner's decisions in Approved/ uncommitted across a sync (approval intake takes them
 * in), so git's autostash sets them aside and puts them back after the remote's commits. These are the cases
 * where the remote (a compromised cloud, say) changed the same file meanwhile.
 */
async function ownerDecisionBesideRemoteEdit(options: { localCommit: boolean; ownerDeletes?: boolean }) {
  const { clones } = await remoteWithClones(['cloud', 'local']);
  const cloud = clones.cloud!;
  const local = clones.local!;
  await mkdir(join(cloud.dir, 'Approved'), { recursive: true });
  await writeFile(join(cloud.dir, APPROVED), SIGNED.replace('approved\n', 'refused\n'));
  await cloud.repo.commit('cloud: add', [APPROVED]);
  await cloud.repo.sync();
  const events: Array<{ kind: string; message: string; path?: string }> = [];
  const repo = new VaultRepo({
    root: local.dir,
    agent: 'local',
    sweepExclude: ['Approved', 'Rejected'],
    onEvent: (e) => events.push(e),
  });
  await repo.sync();
  // The owner decides on the laptop (uncommitted); the remote edits the same file and lands first.
  if (options.ownerDeletes) await rm(join(local.dir, APPROVED));
  else await writeFile(join(local.dir, APPROVED), SIGNED);
  if (options.localCommit) {
    await writeFile(join(local.dir, 'Updates/note.md'), 'a local note\n');
    await repo.commit('local: note', ['Updates/note.md']);
  }
  await writeFile(join(cloud.dir, APPROVED), TAMPERED);
  await cloud.repo.commit('cloud: edit', [APPROVED]);
  await cloud.repo.sync();
  const report = await repo.sync();
  return { cloud, local, repo, report, events };
}

async function expectCleanIndex(dir: string) {
  expect(await git(dir, 'ls-files', '-u')).toBe('');
  expect(await git(dir, 'diff', '--cached', '--name-only')).toBe('');
}

describe('uncommitted changes the remote changed too (git autostash)', () => {
  it.each([
    ['with our commits to replay (rebase)', true],
    ['with nothing of ours to replay (fast-forward)', false],
  ])(
    '%s: the owner’s version is kept, uncommitted, no conflict markers, and the clone keeps committing',
    async (_, localCommit) => {
      const { cloud, local, repo, report, events } = await ownerDecisionBesideRemoteEdit({ localCommit });
      expect(report.state).toBe('synced');
      expect(await readFile(join(local.dir, APPROVED), 'utf8')).toBe(SIGNED);
      await expectCleanIndex(local.dir);
      // HEAD has the remote's version; the owner's stays a working-tree change for approval intake to see.
      expect(await git(local.dir, 'show', `HEAD:${APPROVED}`)).toBe(TAMPERED);
      expect((await git(local.dir, 'status', '--porcelain')).trim()).toBe(`M ${APPROVED}`);
      expect(events).toContainEqual({
        kind: 'kept_local_change',
        message: `${APPROVED}: the remote changed it too; this machine's uncommitted version is kept over it`,
        path: APPROVED,
      });
      // What failed before: every later commit ("Committing is not possible because you have unmerged files").
      await writeFile(join(local.dir, 'Updates/later.md'), 'later\n');
      expect((await repo.commit('local: later', ['Updates/later.md'])).committed).toBe(true);
      expect((await repo.sync()).state).toBe('synced');
      await cloud.repo.sync();
      expect(existsSync(join(cloud.dir, 'Updates/later.md'))).toBe(true);
      if (localCommit) expect(existsSync(join(cloud.dir, 'Updates/note.md'))).toBe(true);
    },
  );

  it('the owner deleted the file the remote edited: it stays deleted here, uncommitted', async () => {
    const { local, report } = await ownerDecisionBesideRemoteEdit({ localCommit: true, ownerDeletes: true });
    expect(report.state).toBe('synced');
    expect(existsSync(join(local.dir, APPROVED))).toBe(false);
    await expectCleanIndex(local.dir);
    expect((await git(local.dir, 'status', '--porcelain')).trim()).toBe(`D ${APPROVED}`);
  });

  it('the remote replaced the folder with a link meanwhile: the link is quarantined, none is left, nothing outside is touched', async () => {
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    await mkdir(join(cloud.dir, 'Approved'), { recursive: true });
    await writeFile(join(cloud.dir, APPROVED), TAMPERED);
    await cloud.repo.commit('cloud: add', [APPROVED]);
    await cloud.repo.sync();
    const repo = new VaultRepo({ root: local.dir, agent: 'local', sweepExclude: ['Approved', 'Rejected'] });
    await repo.sync();
    await writeFile(join(local.dir, APPROVED), SIGNED);
    // git meets a folder/file clash here and writes the remote's link beside it as `Approved~Updated upstream`.
    const outside = await tempDir();
    await git(cloud.dir, 'rm', '-q', '-r', 'Approved');
    await symlink(outside, join(cloud.dir, 'Approved'));
    await git(cloud.dir, 'add', '-A');
    await git(cloud.dir, '-c', 'user.name=c', '-c', 'user.email=c@x', 'commit', '-qm', 'cloud: link');
    await git(cloud.dir, 'push', '-q', 'origin', 'HEAD:main');

    const report = await repo.sync();
    expect(report.state).toBe('synced');
    expect(report.quarantinedLinks).toEqual(['Approved']);
    expect(await readdir(outside)).toEqual([]);
    expect((await lstat(join(local.dir, 'Approved'))).isDirectory()).toBe(true);
    expect(await readFile(join(local.dir, APPROVED), 'utf8')).toBe(SIGNED);
    const tracked = (await git(local.dir, 'ls-files', '-s')).split('\n');
    expect(tracked.filter((line) => line.startsWith('120000'))).toEqual([]);
    const top = await readdir(local.dir);
    for (const name of top) expect((await lstat(join(local.dir, name))).isSymbolicLink(), name).toBe(false);
    await expectCleanIndex(local.dir);
    await writeFile(join(local.dir, 'Updates/after.md'), 'after\n');
    expect((await repo.commit('local: after', ['Updates/after.md'])).committed).toBe(true);
    expect((await repo.sync()).state).toBe('synced');
    expect(await git(local.dir, 'status', '--porcelain', '--untracked-files=all')).toBe(`?? ${APPROVED}\n`);
  });

  it('killed before the sync settled the conflict: the next process repairs it before anything else', async () => {
    const { clones } = await remoteWithClones(['local']);
    const local = clones.local!;
    const path = join(local.dir, APPROVED);
    await mkdir(join(local.dir, 'Approved'), { recursive: true });
    await writeFile(path, SIGNED);
    await local.repo.commit('local: add', [APPROVED]);
    // What git leaves when a stash goes back with conflicts: unmerged stages and markers in the file.
    await writeFile(path, SIGNED.replace('client@', 'partner@'));
    await git(local.dir, 'stash', 'push', '--quiet');
    await writeFile(path, TAMPERED);
    await local.repo.commit('local: stand-in for the remote’s edit', [APPROVED]);
    await git(local.dir, 'stash', 'apply', '--quiet').catch(() => undefined);
    expect(await git(local.dir, 'ls-files', '-u')).not.toBe('');
    expect(await readFile(path, 'utf8')).toContain('<<<<<<<');

    const events: Array<{ kind: string; message: string }> = [];
    const next = new VaultRepo({ root: local.dir, agent: 'local', onEvent: (e) => events.push(e) });
    await writeFile(join(local.dir, 'Updates/n.md'), 'n\n');
    expect((await next.commit('local: n', ['Updates/n.md'])).committed).toBe(true);
    expect(events.map((e) => e.message)).toContain(`repaired the clone: stashed_change_kept ${APPROVED}`);
    expect(await readFile(path, 'utf8')).toBe(SIGNED.replace('client@', 'partner@'));
    await expectCleanIndex(local.dir);
  });
});

/**
 * keepStashedVersions on an index set up by hand (`git update-index --index-info`, stage 1 the base, 2 the
 * remote's, 3 this machine's stashed change): what git's autostash can leave, and what a hostile remote can
 * arrange around it.
 */
describe('keepStashedVersions', () => {
  async function cloneWithFile() {
    const { clones } = await remoteWithClones(['local']);
    const local = clones.local!;
    await mkdir(join(local.dir, 'Approved'), { recursive: true });
    await writeFile(join(local.dir, APPROVED), SIGNED);
    await local.repo.commit('local: add', [APPROVED]);
    const blob = async (text: string) =>
      (await execGit(local.dir, ['hash-object', '-w', '--stdin'], text)).trim();
    const unmerged = async (path: string, stages: Array<[number, string, string]>) =>
      execGit(
        local.dir,
        ['update-index', '--index-info'],
        [`0 ${'0'.repeat(40)}\t${path}`, ...stages.map(([n, mode, oid]) => `${mode} ${oid} ${n}\t${path}`)]
          .map((line) => `${line}\n`)
          .join(''),
      );
    /** Unmerged with a base and the remote's side only: nothing of this machine's to put back. */
    const remoteSideOnly = async (path: string) =>
      unmerged(path, [
        [1, '100644', await blob('base\n')],
        [2, '100644', await blob('theirs\n')],
      ]);
    return { dir: local.dir, git: new Git(local.dir), blob, unmerged, remoteSideOnly };
  }

  it('nothing unmerged: touches nothing (the staged change stays staged) and reports nothing', async () => {
    const { dir, git: g } = await cloneWithFile();
    await writeFile(join(dir, APPROVED), TAMPERED);
    await git(dir, 'add', APPROVED);
    expect(await keepStashedVersions(g, dir)).toEqual([]);
    expect(await git(dir, 'diff', '--cached', '--name-only')).toBe(`${APPROVED}\n`);
  });

  it('a path under a link to a folder outside, with nothing of ours: nothing outside is removed, nothing thrown', async () => {
    const { dir, git: g, remoteSideOnly } = await cloneWithFile();
    const outside = await tempDir();
    await writeFile(join(outside, 'x.md'), 'outside\n');
    await symlink(outside, join(dir, 'L'));
    await remoteSideOnly('L/x.md');
    expect(await keepStashedVersions(g, dir)).toEqual([{ path: 'L/x.md', kept: false }]);
    expect(await readFile(join(outside, 'x.md'), 'utf8')).toBe('outside\n');
    await expectCleanIndex(dir);
  });

  it('a folder where the unmerged file was, with nothing of ours: the folder stays, nothing thrown', async () => {
    const { dir, git: g, remoteSideOnly } = await cloneWithFile();
    await mkdir(join(dir, 'Approved/D.md'), { recursive: true });
    await writeFile(join(dir, 'Approved/D.md/inner.md'), 'inner\n');
    await remoteSideOnly('Approved/D.md');
    expect(await keepStashedVersions(g, dir)).toEqual([{ path: 'Approved/D.md', kept: false }]);
    expect(await readFile(join(dir, 'Approved/D.md/inner.md'), 'utf8')).toBe('inner\n');
    await expectCleanIndex(dir);
  });

  it('a FIFO where the unmerged file was, with nothing of ours: left as it is (only a file or a link is removed)', async () => {
    const { dir, git: g, remoteSideOnly } = await cloneWithFile();
    await rm(join(dir, APPROVED));
    await new Promise((resolve, reject) =>
      execFile('mkfifo', [join(dir, APPROVED)], (error) => (error ? reject(error) : resolve(undefined))),
    );
    await remoteSideOnly(APPROVED);
    expect(await keepStashedVersions(g, dir)).toEqual([{ path: APPROVED, kept: false }]);
    expect((await lstat(join(dir, APPROVED))).isFIFO()).toBe(true);
  });

  it('our stashed side is a link: its target is never written as the file', async () => {
    const { dir, git: g, blob, unmerged } = await cloneWithFile();
    await unmerged(APPROVED, [
      [1, '100644', await blob(SIGNED)],
      [2, '100644', await blob(TAMPERED)],
      [3, '120000', await blob('/etc/passwd')],
    ]);
    await writeFile(join(dir, APPROVED), TAMPERED);
    expect(await keepStashedVersions(g, dir)).toEqual([{ path: APPROVED, kept: true }]);
    expect(await readFile(join(dir, APPROVED), 'utf8')).toBe(TAMPERED);
    await expectCleanIndex(dir);
  });
});

/** git with `input` on its standard input. */
function execGit(dir: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('git', args, { cwd: dir }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
    child.stdin?.end(input);
  });
}
