import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VaultRepo } from '../../core/vault-repo.js';
import { git, remoteWithClones, tempDir } from '../helpers/vaults.js';

const ITEM = '---\ntype: email\nfrom: jane@client.example\n---\n\nplease call me\n';

/** An item the cloud added and claimed, both clones synced: HEAD holds it in In_Progress/cloud/. */
async function claimedByCloud() {
  const { remote, clones } = await remoteWithClones(['cloud', 'local']);
  const cloud = clones.cloud!;
  const local = clones.local!;
  await mkdir(join(cloud.dir, 'Needs_Action/email'), { recursive: true });
  await writeFile(join(cloud.dir, 'Needs_Action/email/E7.md'), ITEM);
  await cloud.repo.commit('cloud: add E7');
  await cloud.repo.sync();
  await local.repo.sync();
  expect((await cloud.repo.claim('E7')).result).toBe('won');
  await local.repo.sync();
  expect(existsSync(join(local.dir, 'In_Progress/cloud/E7.md'))).toBe(true);
  return { remote, cloud, local };
}

const treeOf = async (remote: string) =>
  (await git(remote, 'ls-tree', '-r', '--name-only', 'main')).split('\n').filter((p) => p.endsWith('/E7.md'));

describe('a claimed item that git put back into Needs_Action/ is never committed as new work', () => {
  it("the old copy (a checkout or abort killed half-way) is removed with an event; the cloud's claim stands", async () => {
    const { remote, local } = await claimedByCloud();
    // What an interrupted checkout leaves: the item's pre-claim bytes back at its old path, untracked.
    await mkdir(join(local.dir, 'Needs_Action/email'), { recursive: true });
    await writeFile(join(local.dir, 'Needs_Action/email/E7.md'), ITEM);
    const events: string[] = [];
    const repo = new VaultRepo({ root: local.dir, agent: 'local', onEvent: (e) => events.push(e.message) });

    expect((await repo.sync()).state).toBe('synced');

    expect(await treeOf(remote)).toEqual(['In_Progress/cloud/E7.md']);
    expect(existsSync(join(local.dir, 'Needs_Action/email/E7.md'))).toBe(false);
    expect(events).toContainEqual(expect.stringContaining('removed Needs_Action/email/E7.md, a stale copy'));
    expect(await git(local.dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
  });

  it('an item moved back by hand (its claimed copy gone) is committed as the move it is', async () => {
    const { remote, cloud } = await claimedByCloud();
    await rename(join(cloud.dir, 'In_Progress/cloud/E7.md'), join(cloud.dir, 'Needs_Action/email/E7.md'));

    expect((await cloud.repo.sync()).state).toBe('synced');

    expect(await treeOf(remote)).toEqual(['Needs_Action/email/E7.md']);
    expect(await readFile(join(cloud.dir, 'Needs_Action/email/E7.md'), 'utf8')).toBe(ITEM);
  });

  it('a file with the same name but other bytes is new input and is committed', async () => {
    const { remote, local } = await claimedByCloud();
    await mkdir(join(local.dir, 'Needs_Action/email'), { recursive: true });
    await writeFile(join(local.dir, 'Needs_Action/email/E7.md'), `${ITEM}and one more line\n`);

    expect((await local.repo.sync()).state).toBe('synced');

    expect((await treeOf(remote)).sort()).toEqual(['In_Progress/cloud/E7.md', 'Needs_Action/email/E7.md']);
  });

  it('a tracked Needs_Action/ file edited back to the bytes of the claimed copy is an edit, committed as such', async () => {
    const { remote, local } = await claimedByCloud();
    await mkdir(join(local.dir, 'Needs_Action/email'), { recursive: true });
    await writeFile(join(local.dir, 'Needs_Action/email/E7.md'), `${ITEM}and one more line\n`);
    expect((await local.repo.sync()).state).toBe('synced');
    // Now tracked; edited back to exactly the bytes the path had before the claim moved it away.
    await writeFile(join(local.dir, 'Needs_Action/email/E7.md'), ITEM);

    expect((await local.repo.sync()).state).toBe('synced');

    expect((await treeOf(remote)).sort()).toEqual(['In_Progress/cloud/E7.md', 'Needs_Action/email/E7.md']);
    expect(await git(remote, 'show', 'main:Needs_Action/email/E7.md')).toBe(ITEM);
  });

  it('a clone without any commit yet (no HEAD) takes a new item, with no repair reported', async () => {
    const dir = await tempDir();
    await git(dir, 'init', '--quiet', '--initial-branch=main');
    await mkdir(join(dir, 'Needs_Action/email'), { recursive: true });
    await writeFile(join(dir, 'Needs_Action/email/E1.md'), ITEM);
    const events: string[] = [];
    const repo = new VaultRepo({ root: dir, agent: 'cloud', onEvent: (e) => events.push(e.kind) });

    expect((await repo.commit('cloud: add E1')).committed).toBe(true);

    expect(await git(dir, 'ls-files')).toBe('Needs_Action/email/E1.md\n');
    expect(events).toEqual([]);
  });

  it('an ordinary commit, with nothing in Needs_Action/ to look at, reports no repair', async () => {
    const { local } = await claimedByCloud();
    await writeFile(join(local.dir, 'Dashboard.md'), '# Dashboard\n\nall quiet\n');
    const events: string[] = [];
    const repo = new VaultRepo({ root: local.dir, agent: 'local', onEvent: (e) => events.push(e.kind) });

    expect((await repo.commit('local: dashboard')).committed).toBe(true);

    expect(events).toEqual([]);
  });
});

describe('what counts as a stale copy: an untracked .md in Needs_Action/ with the bytes it had there, its item held in a later folder', () => {
  it('removes such copies of items held in Done/ or Pending_Approval/; a .txt, a copy outside Needs_Action/ or an item moved between Needs_Action/ domains is committed', async () => {
    const { remote, clones } = await remoteWithClones(['cloud']);
    const cloud = clones.cloud!;
    const moves: Array<[string, string]> = [
      ['Needs_Action/email/D1.md', 'Done/D1.md'],
      ['Needs_Action/email/P1.md', 'Pending_Approval/email/P1.md'],
      ['Needs_Action/email/T1.txt', 'Done/T1.txt'],
      ['Pending_Approval/email/A1.md', 'Approved/email/A1.md'],
      ['Needs_Action/email/M1.md', 'Needs_Action/finance/M1.md'],
    ];
    for (const folder of [
      'Needs_Action/email',
      'Needs_Action/finance',
      'Pending_Approval/email',
      'Approved/email',
    ]) {
      await mkdir(join(cloud.dir, folder), { recursive: true });
    }
    for (const [from] of moves) await writeFile(join(cloud.dir, from), `${ITEM}${from}\n`);
    await cloud.repo.commit('cloud: add items');
    for (const [from, to] of moves) await rename(join(cloud.dir, from), join(cloud.dir, to));
    await cloud.repo.commit('cloud: move items');
    // What an interrupted checkout would leave: each item's old bytes back at its old path, untracked.
    for (const [from] of moves) await writeFile(join(cloud.dir, from), `${ITEM}${from}\n`);
    const events: string[] = [];
    const repo = new VaultRepo({ root: cloud.dir, agent: 'cloud', onEvent: (e) => events.push(e.message) });

    expect((await repo.sync()).state).toBe('synced');

    const tree = (await git(remote, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
    const stale = ['Needs_Action/email/D1.md', 'Needs_Action/email/P1.md'];
    for (const path of stale) {
      expect(tree).not.toContain(path);
      expect(existsSync(join(cloud.dir, path))).toBe(false);
      expect(events).toContainEqual(expect.stringContaining(`removed ${path}, a stale copy`));
    }
    for (const [from, to] of moves.filter(([from]) => !stale.includes(from))) {
      expect(tree).toContain(from);
      expect(tree).toContain(to);
    }
    expect(events.filter((e) => e.includes('a stale copy'))).toHaveLength(2);
  });
});
