import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initVault } from '../../core/init.js';
import { VaultRepo, type VaultRepoOptions } from '../../core/vault-repo.js';
import { git, remoteWithClones, tempDir } from '../helpers/vaults.js';

describe('yielding commits', () => {
  it('drops our claim when the remote decided first and reports it in lostClaims (never keeps both)', async () => {
    const { remote, clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    await writeFile(join(cloud.dir, 'Needs_Action/email/E7.md'), '---\ntype: email\n---\n\nhi\n');
    await cloud.repo.commit('cloud: add E7');
    await cloud.repo.sync();
    await local.repo.sync();
    // Local claims E7 in a commit that has not reached the remote yet; the cloud's claim lands first.
    await local.repo.change('local: claim E7', async () => {
      await mkdir(join(local.dir, 'In_Progress/local'), { recursive: true });
      await rename(join(local.dir, 'Needs_Action/email/E7.md'), join(local.dir, 'In_Progress/local/E7.md'));
      return ['Needs_Action/email/E7.md', 'In_Progress/local/E7.md'];
    });
    expect((await cloud.repo.claim('E7')).result).toBe('won');
    const events: Array<{ kind: string; message: string }> = [];
    const repo = new VaultRepo({ root: local.dir, agent: 'local', onEvent: (e) => events.push(e) });
    const report = await repo.sync();
    expect(report.lostClaims).toEqual(['E7']);
    expect(events).toContainEqual({
      kind: 'superseded',
      message: 'dropped "local: claim E7": the remote decided E7 first',
    });
    expect(report.conflicts).toEqual([]);
    const tree = (await git(remote, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
    expect(tree.filter((p) => p.endsWith('/E7.md'))).toEqual(['In_Progress/cloud/E7.md']);
    expect(existsSync(join(local.dir, 'In_Progress/local/E7.md'))).toBe(false);
    expect(await git(local.dir, 'log', '--format=%s')).not.toContain('local: claim E7');
  }, 60_000);

  it('drops our expiry when the owner answered first: no lost claim, no conflict copy, the owner’s version stands', async () => {
    const { remote, clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    await mkdir(join(cloud.dir, 'Pending_Approval/email'), { recursive: true });
    const path = 'Pending_Approval/email/E8.md';
    await writeFile(join(cloud.dir, path), '---\ntype: approval_request\nstatus: pending\n---\n\nhi\n');
    await cloud.repo.commit('cloud: request E8');
    await cloud.repo.sync();
    await local.repo.sync();
    // The owner answers on the laptop and it lands first; the cloud's expiry of the same file is not pushed yet.
    await local.repo.change('local: answer E8', async () => {
      await writeFile(join(local.dir, path), '---\ntype: approval_request\nstatus: answered\n---\n\nhi\n');
      return [path];
    });
    expect((await local.repo.sync()).state).toBe('synced');
    await cloud.repo.change('cloud: expire E8', async () => {
      await writeFile(join(cloud.dir, path), '---\ntype: approval_request\nstatus: expired\n---\n\nhi\n');
      return [path];
    });
    const report = await cloud.repo.sync();
    expect(report.lostClaims).toEqual([]);
    expect(report.conflicts).toEqual([]);
    expect(await git(remote, 'show', `main:${path}`)).toContain('status: answered');
    expect(await git(cloud.dir, 'log', '--format=%s')).not.toContain('cloud: expire E8');
  }, 60_000);

  it.each([
    ['another agent’s claim', 'other: claim E9'],
    // A quarantine commit's subject ends in a path the remote chose: it may end like our own claim.
    ['a subject that only ends like our claim', 'local: quarantine Needs_Action/email/x local: claim E9'],
  ])(
    '%s in our history is never dropped as ours',
    async (_, subject) => {
      const { clones } = await remoteWithClones(['cloud', 'local']);
      const cloud = clones.cloud!;
      const local = clones.local!;
      await writeFile(join(cloud.dir, 'Needs_Action/email/E9.md'), '---\ntype: email\n---\n\nhi\n');
      await cloud.repo.commit('cloud: add E9');
      await cloud.repo.sync();
      await local.repo.sync();
      // Only this clone's own claim yields; any other commit that conflicts is kept, both versions.
      await local.repo.change(subject, async () => {
        await writeFile(join(local.dir, 'Needs_Action/email/E9.md'), '---\ntype: email\n---\n\nlocal\n');
        return ['Needs_Action/email/E9.md'];
      });
      await cloud.repo.change('cloud: edit E9', async () => {
        await writeFile(join(cloud.dir, 'Needs_Action/email/E9.md'), '---\ntype: email\n---\n\ncloud\n');
        return ['Needs_Action/email/E9.md'];
      });
      await cloud.repo.sync();
      const report = await local.repo.sync();
      expect(report.lostClaims).toEqual([]);
      expect(report.conflicts).toHaveLength(1);
      expect((await git(local.dir, 'log', '--format=%s')).split('\n')).toContain(subject);
    },
    60_000,
  );
});

const E7 = 'Needs_Action/email/E7.md';
const ITEM = '---\ntype: email\n---\n\nhi\n';

/** The cloud added E7 and both clones synced it: unclaimed on the remote and in both working trees. */
async function itemOnBoth(options: { localOptions?: Partial<VaultRepoOptions> } = {}) {
  const { root, remote, clones } = await remoteWithClones(['cloud', 'local']);
  const cloud = clones.cloud!;
  const events: Array<{ kind: string; message: string }> = [];
  const local = {
    dir: clones.local!.dir,
    repo: new VaultRepo({
      root: clones.local!.dir,
      agent: 'local',
      onEvent: (e) => events.push(e),
      ...options.localOptions,
    }),
  };
  await writeFile(join(cloud.dir, E7), ITEM);
  await cloud.repo.commit('cloud: add E7');
  await cloud.repo.sync();
  await local.repo.sync();
  return { root, remote, cloud, local, events };
}

const remoteTree = async (remote: string) =>
  (await git(remote, 'ls-tree', '-r', '--name-only', 'main')).split('\n').filter(Boolean);
const subjects = async (dir: string) => (await git(dir, 'log', '--format=%s')).split('\n');

/** The claim was taken back: item where it was, no claim commit, nothing left uncommitted or staged. */
async function expectClaimTakenBack(dir: string, head: string) {
  expect(existsSync(join(dir, E7))).toBe(true);
  expect(existsSync(join(dir, 'In_Progress/local/E7.md'))).toBe(false);
  expect((await git(dir, 'rev-parse', 'HEAD')).trim()).toBe(head);
  expect(await git(dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
}

describe('replaying our commits on the remote', () => {
  it('our deletion of a file the remote edited: the remote’s edit stands, nothing to keep of ours, synced', async () => {
    const { remote, cloud, local } = await itemOnBoth();
    await local.repo.change('local: remove E7', async () => {
      await rm(join(local.dir, E7));
      return [E7];
    });
    await writeFile(join(cloud.dir, E7), `${ITEM}edited\n`);
    await cloud.repo.commit('cloud: edit E7');
    await cloud.repo.sync();
    const report = await local.repo.sync();
    expect(report.state).toBe('synced');
    expect(report.conflicts).toEqual([]);
    expect(await readFile(join(local.dir, E7), 'utf8')).toBe(`${ITEM}edited\n`);
    expect(await git(remote, 'show', `main:${E7}`)).toBe(`${ITEM}edited\n`);
    expect(await git(local.dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  });
});

describe('a commit git cannot replay on the remote', () => {
  it('the remote replaced the folder our unpushed commit writes into with a link: refused with the commit named, the clone put back, not looped', async () => {
    const { remote, cloud, local } = await itemOnBoth();
    await mkdir(join(local.dir, 'Plans/notes'), { recursive: true });
    await writeFile(join(local.dir, 'Plans/notes/mine.md'), 'mine\n');
    await local.repo.commit('local: note');
    const ours = (await git(local.dir, 'rev-parse', 'HEAD')).trim();
    await mkdir(join(cloud.dir, 'Plans'), { recursive: true });
    await symlink('/etc', join(cloud.dir, 'Plans/notes'));
    await git(cloud.dir, 'add', '-A');
    await git(cloud.dir, '-c', 'user.name=c', '-c', 'user.email=c@x', 'commit', '-qm', 'cloud: link');
    await git(cloud.dir, 'push', '-q', 'origin', 'HEAD:main');

    const report = await local.repo.sync();

    expect(report.state).toBe('refused');
    // Named by its commit, with what git said when it stopped.
    expect(report.remoteRefused?.reason).toContain(
      `cannot replay ${ours.slice(0, 12)} on the remote: You must edit all merge conflicts`,
    );
    // Put back on our own history (the refusal is recorded on top of it), nothing of the remote's taken.
    expect((await git(local.dir, 'rev-parse', 'HEAD~1')).trim()).toBe(ours);
    expect(await git(local.dir, 'log', '-1', '--format=%s')).toMatch(/^local: remote_refused /);
    expect(existsSync(join(local.dir, '.git/rebase-merge'))).toBe(false);
    expect(await readFile(join(local.dir, 'Plans/notes/mine.md'), 'utf8')).toBe('mine\n');
    expect(await git(remote, 'log', '-1', '--format=%s', 'main')).toBe('cloud: link\n');
  });
});

describe('claims are decided by whose push lands', () => {
  it('a claim whose commit fails puts the item back and says why', async () => {
    const { local } = await itemOnBoth();
    await writeFile(join(local.dir, '.git/index.lock'), '');
    await expect(local.repo.claim('E7')).rejects.toThrow(/^git add .* failed/);
    expect(existsSync(join(local.dir, E7))).toBe(true);
    expect(existsSync(join(local.dir, 'In_Progress/local/E7.md'))).toBe(false);
    await rm(join(local.dir, '.git/index.lock'));
    expect((await local.repo.claim('E7')).result).toBe('won');
  });

  it('an item whose id we already hold in In_Progress/ is not taken a second time: nothing moved, nothing committed', async () => {
    const { local } = await itemOnBoth();
    await mkdir(join(local.dir, 'In_Progress/local'), { recursive: true });
    await writeFile(join(local.dir, 'In_Progress/local/E7.md'), 'ours already\n');
    const head = (await git(local.dir, 'rev-parse', 'HEAD')).trim();
    expect(await local.repo.claim('E7')).toEqual({ result: 'lost', owner: 'local' });
    expect(await readFile(join(local.dir, E7), 'utf8')).toBe(ITEM);
    expect(await readFile(join(local.dir, 'In_Progress/local/E7.md'), 'utf8')).toBe('ours already\n');
    expect((await git(local.dir, 'rev-parse', 'HEAD')).trim()).toBe(head);
  });

  it('an uncontested claim is pushed: won, one claim commit, the item in In_Progress/<agent>/ on the remote', async () => {
    const { remote, local } = await itemOnBoth();
    expect(await local.repo.claim('E7')).toEqual({ result: 'won', path: 'In_Progress/local/E7.md' });
    expect((await remoteTree(remote)).filter((p) => p.endsWith('/E7.md'))).toEqual([
      'In_Progress/local/E7.md',
    ]);
    expect((await git(remote, 'log', '-1', '--format=%s', 'main')).trim()).toBe('local: claim E7');
    expect(await git(local.dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  });

  it('claiming an item we already hold says won with its path; one another agent holds is lost to it; an unknown one is missing', async () => {
    const { cloud, local } = await itemOnBoth();
    expect((await local.repo.claim('E7')).result).toBe('won');
    const head = (await git(local.dir, 'rev-parse', 'HEAD')).trim();
    expect(await local.repo.claim('E7')).toEqual({ result: 'won', path: 'In_Progress/local/E7.md' });
    expect((await git(local.dir, 'rev-parse', 'HEAD')).trim()).toBe(head);
    await cloud.repo.sync();
    expect(await cloud.repo.claim('E7')).toEqual({ result: 'lost', owner: 'local' });
    expect(await cloud.repo.claim('E8')).toEqual({ result: 'missing' });
  });

  it('a claim committed but never pushed (killed in between) is pushed by the next claim of the item: won', async () => {
    const { remote, local } = await itemOnBoth();
    await mkdir(join(local.dir, 'In_Progress/local'), { recursive: true });
    await git(local.dir, 'mv', E7, 'In_Progress/local/E7.md');
    await git(local.dir, 'commit', '--quiet', '-m', 'local: claim E7');

    expect(await local.repo.claim('E7')).toEqual({ result: 'won', path: 'In_Progress/local/E7.md' });
    expect((await remoteTree(remote)).filter((p) => p.endsWith('/E7.md'))).toEqual([
      'In_Progress/local/E7.md',
    ]);
  });

  it('an item whose claim is on the remote stays won while the remote is unreachable; without a remote it is won too', async () => {
    const { root, remote, local } = await itemOnBoth();
    expect((await local.repo.claim('E7')).result).toBe('won');
    await rename(remote, join(root, 'gone.git'));
    expect(await local.repo.claim('E7')).toEqual({ result: 'won', path: 'In_Progress/local/E7.md' });

    const dir = join(await tempDir(), 'vault');
    await initVault(dir, { agent: 'cloud' });
    await writeFile(join(dir, E7), ITEM);
    const alone = new VaultRepo({ root: dir, agent: 'cloud' });
    await alone.commit('cloud: add E7');
    expect((await alone.claim('E7')).result).toBe('won');
    expect(await alone.claim('E7')).toEqual({ result: 'won', path: 'In_Progress/cloud/E7.md' });
  });

  it('a claim committed but never pushed, while another agent’s claim landed: not won; the next sync gives the item to it', async () => {
    const { remote, cloud, local } = await itemOnBoth();
    await mkdir(join(local.dir, 'In_Progress/local'), { recursive: true });
    await git(local.dir, 'mv', E7, 'In_Progress/local/E7.md');
    await git(local.dir, 'commit', '--quiet', '-m', 'local: claim E7');
    expect((await cloud.repo.claim('E7')).result).toBe('won');

    const outcome = await local.repo.claim('E7');
    expect(outcome.result).toBe('offline');
    expect(outcome.result === 'offline' && outcome.error).toMatch(
      /^our claim of In_Progress\/local\/E7.md is not on the remote yet: /,
    );

    expect((await local.repo.sync()).lostClaims).toEqual(['E7']);
    expect(await local.repo.claim('E7')).toEqual({ result: 'lost', owner: 'cloud' });
    expect((await remoteTree(remote)).filter((p) => p.endsWith('/E7.md'))).toEqual([
      'In_Progress/cloud/E7.md',
    ]);
  });

  it('a vault without a remote claims locally: won, committed', async () => {
    const dir = join(await tempDir(), 'vault');
    await initVault(dir, { agent: 'cloud' });
    await writeFile(join(dir, E7), ITEM);
    const repo = new VaultRepo({ root: dir, agent: 'cloud' });
    await repo.commit('cloud: add E7');
    expect(await repo.claim('E7')).toEqual({ result: 'won', path: 'In_Progress/cloud/E7.md' });
    expect((await git(dir, 'log', '-1', '--format=%s')).trim()).toBe('cloud: claim E7');
    expect(await git(dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  });

  it('the remote moved on with other work: our claim is replayed on top of it and pushed (won)', async () => {
    const { remote, cloud, local } = await itemOnBoth();
    await writeFile(join(cloud.dir, 'Needs_Action/email/E9.md'), ITEM);
    await cloud.repo.commit('cloud: add E9');
    await cloud.repo.sync();
    expect(await local.repo.claim('E7')).toEqual({ result: 'won', path: 'In_Progress/local/E7.md' });
    const tree = await remoteTree(remote);
    expect(tree).toContain('In_Progress/local/E7.md');
    expect(tree).toContain('Needs_Action/email/E9.md');
    expect(tree).not.toContain(E7);
    expect((await git(remote, 'log', '-1', '--format=%s', 'main')).trim()).toBe('local: claim E7');
    expect(existsSync(join(local.dir, 'Needs_Action/email/E9.md'))).toBe(true);
  });

  it('the other agent’s claim landed first: lost to it, our claim commit taken back, the clone on the remote’s commit', async () => {
    const { remote, cloud, local } = await itemOnBoth();
    expect((await cloud.repo.claim('E7')).result).toBe('won');
    await linkOnRemote(cloud.dir);
    expect(await local.repo.claim('E7')).toEqual({ result: 'lost', owner: 'cloud' });
    // What the lost claim pulled in went through the same checks as a sync: the link is quarantined.
    expect(await isLink(join(local.dir, 'Inbox/link.md'))).toBe(false);
    expect(existsSync(join(local.dir, 'In_Progress/cloud/E7.md'))).toBe(true);
    expect(existsSync(join(local.dir, E7))).toBe(false);
    expect(existsSync(join(local.dir, 'In_Progress/local/E7.md'))).toBe(false);
    expect(await subjects(local.dir)).not.toContain('local: claim E7');
    // On the remote's commit, with only the link's quarantine on top (pushed by the next sync).
    expect((await git(local.dir, 'rev-parse', 'HEAD~1')).trim()).toBe(
      (await git(remote, 'rev-parse', 'main')).trim(),
    );
    expect(await git(local.dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  });

  it('the remote edited the item meanwhile (still unclaimed): our claim is replayed on the edit and pushed (won)', async () => {
    const { remote, cloud, local } = await itemOnBoth();
    await writeFile(join(cloud.dir, E7), `${ITEM}more from the client\n`);
    await cloud.repo.commit('cloud: edit E7');
    await cloud.repo.sync();
    expect(await local.repo.claim('E7')).toEqual({ result: 'won', path: 'In_Progress/local/E7.md' });
    expect(await git(remote, 'show', 'main:In_Progress/local/E7.md')).toBe(`${ITEM}more from the client\n`);
    expect((await remoteTree(remote)).filter((p) => p.endsWith('/E7.md'))).toEqual([
      'In_Progress/local/E7.md',
    ]);
  });

  it('lost to a claim that landed first while the remote cannot be checked out here: lost, the refusal recorded and audited', async () => {
    const { cloud, local } = await itemOnBoth();
    expect((await cloud.repo.claim('E7')).result).toBe('won');
    await writeFile(join(cloud.dir, 'Needs_Action/email/E9.md'), ITEM);
    await cloud.repo.commit('cloud: add E9');
    await cloud.repo.sync();
    await writeFile(join(local.dir, 'Needs_Action/email/E9.md'), 'a local draft\n');
    const head = (await git(local.dir, 'rev-parse', 'HEAD')).trim();
    expect(await local.repo.claim('E7')).toEqual({ result: 'lost', owner: undefined });
    expect(await subjects(local.dir)).not.toContain('local: claim E7');
    expect((await git(local.dir, 'rev-parse', 'HEAD~1')).trim()).toBe(head);
    expect((await git(local.dir, 'log', '-1', '--format=%s')).trim()).toMatch(/^local: remote_refused /);
    expect(await readFile(join(local.dir, 'Needs_Action/email/E9.md'), 'utf8')).toBe('a local draft\n');
    expect(existsSync(join(local.dir, E7))).toBe(true);
  });

  it('a claim whose replay conflicts on the remote (another file already at its target) yields: lost, the remote’s files stand', async () => {
    const { remote, cloud, local } = await itemOnBoth();
    await mkdir(join(cloud.dir, 'In_Progress/local'), { recursive: true });
    await writeFile(join(cloud.dir, 'In_Progress/local/E7.md'), 'something else entirely\n');
    await cloud.repo.commit('cloud: a file at local’s target');
    await cloud.repo.sync();
    await linkOnRemote(cloud.dir);
    const outcome = await local.repo.claim('E7');
    expect(outcome.result).toBe('lost');
    expect(await isLink(join(local.dir, 'Inbox/link.md'))).toBe(false);
    expect(await subjects(local.dir)).not.toContain('local: claim E7');
    expect(await readFile(join(local.dir, 'In_Progress/local/E7.md'), 'utf8')).toBe(
      'something else entirely\n',
    );
    expect(await readFile(join(local.dir, E7), 'utf8')).toBe(ITEM);
    // On the remote's commit, with only the link's quarantine on top (pushed by the next sync).
    expect((await git(local.dir, 'rev-parse', 'HEAD~1')).trim()).toBe(
      (await git(remote, 'rev-parse', 'main')).trim(),
    );
    expect(await git(local.dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  });

  it('an unreachable remote: offline, the claim taken back (item in Needs_Action/, HEAD unchanged, tree clean)', async () => {
    const { root, remote, local } = await itemOnBoth();
    const head = (await git(local.dir, 'rev-parse', 'HEAD')).trim();
    await rename(remote, join(root, 'away.git'));
    const outcome = await local.repo.claim('E7');
    expect(outcome.result).toBe('offline');
    expect(outcome.result === 'offline' && outcome.error).toMatch(/^git push .* failed/);
    await expectClaimTakenBack(local.dir, head);
  });

  it('a rejected push whose fetch then fails: offline, the claim taken back', async () => {
    const { root, cloud, local } = await itemOnBoth();
    await writeFile(join(cloud.dir, 'Needs_Action/email/E9.md'), ITEM);
    await cloud.repo.commit('cloud: add E9');
    await cloud.repo.sync();
    const head = (await git(local.dir, 'rev-parse', 'HEAD')).trim();
    // Pushes still reach the remote (and are rejected: it moved on); fetches go nowhere.
    const pushUrl = (await git(local.dir, 'remote', 'get-url', 'origin')).trim();
    await git(local.dir, 'remote', 'set-url', 'origin', join(root, 'nowhere.git'));
    await git(local.dir, 'remote', 'set-url', '--push', 'origin', pushUrl);
    const outcome = await local.repo.claim('E7');
    expect(outcome.result).toBe('offline');
    expect(outcome.result === 'offline' && outcome.error).toMatch(/^git fetch .* failed/);
    await expectClaimTakenBack(local.dir, head);
  });

  it('a remote whose newest commit is refused: offline with the reason, the claim taken back, the refusal audited', async () => {
    const { cloud, local } = await itemOnBoth();
    await writeFile(join(cloud.dir, 'Needs_Action/email/BIG.md'), 'x'.repeat(300_000));
    await cloud.repo.commit('cloud: add BIG');
    await cloud.repo.sync();
    const head = (await git(local.dir, 'rev-parse', 'HEAD')).trim();
    const strict = new VaultRepo({ root: local.dir, agent: 'local', limits: { maxBlobBytes: 200_000 } });
    const outcome = await strict.claim('E7');
    expect(outcome).toEqual({
      result: 'offline',
      error: expect.stringMatching(/^remote refused: a file of 300000 bytes/),
    });
    // The refusal's audit record is committed after the claim was taken back, never under it.
    expect((await git(local.dir, 'rev-parse', 'HEAD~1')).trim()).toBe(head);
    expect((await git(local.dir, 'log', '-1', '--format=%s')).trim()).toMatch(/^local: remote_refused /);
    expect(existsSync(join(local.dir, E7))).toBe(true);
    expect(existsSync(join(local.dir, 'In_Progress/local/E7.md'))).toBe(false);
    expect(await subjects(local.dir)).not.toContain('local: claim E7');
  });

  it('a remote git cannot check out here (an untracked file in the way): offline, remote refused, the claim taken back', async () => {
    const { cloud, local } = await itemOnBoth();
    await writeFile(join(cloud.dir, 'Needs_Action/email/E9.md'), ITEM);
    await cloud.repo.commit('cloud: add E9');
    await cloud.repo.sync();
    await writeFile(join(local.dir, 'Needs_Action/email/E9.md'), 'a local draft\n');
    const head = (await git(local.dir, 'rev-parse', 'HEAD')).trim();
    const outcome = await local.repo.claim('E7');
    expect(outcome).toEqual({
      result: 'offline',
      error: expect.stringMatching(/^remote refused: git could not check it out here: /),
    });
    expect(existsSync(join(local.dir, E7))).toBe(true);
    expect(existsSync(join(local.dir, 'In_Progress/local/E7.md'))).toBe(false);
    expect(await readFile(join(local.dir, 'Needs_Action/email/E9.md'), 'utf8')).toBe('a local draft\n');
    expect(await subjects(local.dir)).not.toContain('local: claim E7');
    expect((await git(local.dir, 'rev-parse', 'HEAD~1')).trim()).toBe(head);
  });

  it('every push rejected for the whole retry budget: offline after the budget, the claim taken back', async () => {
    const { remote, local } = await itemOnBoth({ localOptions: { pushRetryBudgetMs: 1500 } });
    await writeFile(join(remote, 'hooks/pre-receive'), '#!/bin/sh\necho "non-fast-forward" >&2\nexit 1\n', {
      mode: 0o755,
    });
    const head = (await git(local.dir, 'rev-parse', 'HEAD')).trim();
    expect(await local.repo.claim('E7')).toEqual({
      result: 'offline',
      error: 'push still rejected after 1.5 s of retries',
    });
    await expectClaimTakenBack(local.dir, head);
  });

  it('a link the claim’s replay brings in is quarantined before the claim returns, and never pushed back', async () => {
    const { remote, cloud, local, events } = await itemOnBoth();
    await linkOnRemote(cloud.dir);
    expect(await local.repo.claim('E7')).toEqual({ result: 'won', path: 'In_Progress/local/E7.md' });
    expect((await lstat(join(local.dir, 'Inbox/link.md')).catch(() => undefined))?.isSymbolicLink()).not.toBe(
      true,
    );
    expect(events.map((e) => e.kind)).toContain('quarantined');
    const tree = await remoteTree(remote);
    expect(tree).toContain('In_Progress/local/E7.md');
    expect(tree).not.toContain('Inbox/link.md');
    expect(await subjects(local.dir)).toContain('local: claim E7');
  });

  it('a commit on top of the claim (a quarantined link) when the push then fails: the claim is kept for the next sync', async () => {
    const { remote, cloud, local, events } = await itemOnBoth();
    await linkOnRemote(cloud.dir);
    // The first push is rejected by the client (the remote moved on); the second by the remote's hook.
    await writeFile(
      join(remote, 'hooks/pre-receive'),
      '#!/bin/sh\necho "closed for maintenance" >&2\nexit 1\n',
      {
        mode: 0o755,
      },
    );
    const outcome = await local.repo.claim('E7');
    expect(outcome.result).toBe('offline');
    expect(outcome.result === 'offline' && outcome.error).toContain('pre-receive hook declined');
    expect(events).toContainEqual(
      expect.objectContaining({
        kind: 'claim_kept',
        message: expect.stringContaining('In_Progress/local/E7.md'),
      }),
    );
    expect(await subjects(local.dir)).toContain('local: claim E7');
    expect(existsSync(join(local.dir, 'In_Progress/local/E7.md'))).toBe(true);
    expect(existsSync(join(local.dir, E7))).toBe(false);
  });
});

const isLink = async (path: string) => (await lstat(path).catch(() => undefined))?.isSymbolicLink() === true;

/** The cloud pushes a symbolic link past its own checks (plain git), as a hostile or broken clone would. */
async function linkOnRemote(dir: string) {
  await symlink('/etc/passwd', join(dir, 'Inbox/link.md'));
  await git(dir, 'add', 'Inbox/link.md');
  await git(dir, 'commit', '--quiet', '-m', 'a link');
  await git(dir, 'push', '--quiet', 'origin', 'HEAD:main');
}
