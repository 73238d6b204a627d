import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initVault } from '../../core/init.js';
import { VaultRepo } from '../../core/vault-repo.js';
import { runFte } from '../helpers/cli.js';
import { git, isAncestor, itemText, refUpdates, remoteWithClones, tempDir } from '../helpers/vaults.js';

async function writeItems(dir: string, count: number, domain = 'email'): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `EMAIL_${String(i).padStart(4, '0')}`);
  await mkdir(join(dir, 'Needs_Action', domain), { recursive: true });
  for (const id of ids) {
    await writeFile(join(dir, 'Needs_Action', domain, `${id}.md`), itemText({ type: 'email', subject: id }));
  }
  return ids;
}

function shuffled<T>(values: T[], seed: number): T[] {
  const out = [...values];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 16807) % 2147483647;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('claims on one machine', () => {
  it('two processes racing for the same items: exactly one wins each, the loser exits 3', async () => {
    const dir = join(await tempDir(), 'vault');
    await initVault(dir, { agent: 'cloud' });
    const ids = await writeItems(dir, 12);
    await new VaultRepo({ root: dir, agent: 'cloud' }).commit('cloud: add items');
    for (const id of ids) {
      const [a, b] = await Promise.all([
        runFte(['claim', id, '--vault', dir, '--agent', 'cloud']),
        runFte(['claim', id, '--vault', dir, '--agent', 'worker2']),
      ]);
      expect([a.code, b.code].sort(), `${a.stderr}${b.stderr}`).toEqual([0, 3]);
      const loser = a.code === 3 ? a : b;
      expect(loser.stderr).toMatch(new RegExp(`${id} is owned by`));
    }
    const owned = [
      ...(await readdir(join(dir, 'In_Progress', 'cloud'))),
      ...(existsSync(join(dir, 'In_Progress', 'worker2'))
        ? await readdir(join(dir, 'In_Progress', 'worker2'))
        : []),
    ].filter((f) => f.endsWith('.md'));
    expect(owned.sort()).toEqual(ids.map((id) => `${id}.md`));
    expect((await readdir(join(dir, 'Needs_Action', 'email'))).filter((f) => f.endsWith('.md'))).toEqual([]);
  }, 240_000); // 24 CLI processes: minutes on a loaded 2-core machine (a guard against a hang, not a speed bound)

  it('says 4 for an item that does not exist and 2 for a hostile id', async () => {
    const dir = join(await tempDir(), 'vault');
    await initVault(dir, { agent: 'cloud' });
    expect((await runFte(['claim', 'NOPE', '--vault', dir])).code).toBe(4);
    const hostile = await runFte(['claim', '../../etc/passwd', '--vault', dir]);
    expect(hostile.code).toBe(2);
    expect(hostile.stderr).toContain('not a task id');
  });
});

describe('claims across machines through one remote', () => {
  it('two agents claiming the same 200 items concurrently: each owned by exactly one, none lost, no force push', async () => {
    const { remote, clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    const ids = await writeItems(cloud.dir, 200);
    await cloud.repo.commit('cloud: add 200 items');
    expect((await cloud.repo.sync()).state).toBe('synced');
    expect((await local.repo.sync()).state).toBe('synced');

    const claimAll = async (repo: VaultRepo, seed: number) => {
      const won: string[] = [];
      const lost: string[] = [];
      for (const id of shuffled(ids, seed)) {
        // A moment of "work" between claims, as a real agent drafts.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 30));
        const outcome = await repo.claim(id);
        if (outcome.result === 'won') won.push(id);
        else if (outcome.result === 'lost') lost.push(id);
        else throw new Error(`claim ${id}: ${JSON.stringify(outcome)}`);
      }
      return { won, lost };
    };
    const [cloudRun, localRun] = await Promise.all([claimAll(cloud.repo, 7), claimAll(local.repo, 11)]);
    const cloudWon = cloudRun.won;
    const localWon = localRun.won;

    // Every item was tried by both and decided once: won by one, lost by the other. (Who wins how many
    // depends on scheduling; `make bench` reports the split.)
    expect(cloudWon.filter((id) => localWon.includes(id))).toEqual([]);
    expect([...cloudWon, ...localWon].sort()).toEqual(ids);
    expect([...cloudRun.lost, ...localRun.lost].sort()).toEqual(ids);

    await cloud.repo.sync();
    await local.repo.sync();
    const tree = (await git(remote, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
    for (const id of ids) {
      const places = tree.filter((p) => p.endsWith(`/${id}.md`));
      expect(places).toHaveLength(1);
    }
    expect(
      tree
        .filter((p) => p.startsWith('In_Progress/cloud/EMAIL_'))
        .map((p) => p.slice(18, -3))
        .sort(),
    ).toEqual([...cloudWon].sort());
    expect(tree.filter((p) => p.startsWith('Needs_Action/email/EMAIL_'))).toEqual([]);

    // Every update of the remote branch was a fast-forward: nothing was ever force-pushed.
    const updates = await refUpdates(remote);
    expect(updates.length).toBeGreaterThan(200);
    for (const [older, newer] of updates) expect(await isAncestor(remote, older, newer)).toBe(true);
  }, 300_000);

  it('a claim with the remote unreachable claims nothing and says so', async () => {
    const { root, remote, clones } = await remoteWithClones(['cloud']);
    const cloud = clones.cloud!;
    const [id] = await writeItems(cloud.dir, 1);
    await cloud.repo.commit('cloud: add item');
    await cloud.repo.sync();
    const { rename } = await import('node:fs/promises');
    await rename(remote, join(root, 'away.git'));
    const outcome = await cloud.repo.claim(id!);
    expect(outcome.result).toBe('offline');
    expect(existsSync(join(cloud.dir, 'Needs_Action', 'email', `${id}.md`))).toBe(true);
    expect(existsSync(join(cloud.dir, 'In_Progress', 'cloud', `${id}.md`))).toBe(false);
    expect(await git(cloud.dir, 'status', '--porcelain')).toBe('');
    await rename(join(root, 'away.git'), remote);
    expect((await cloud.repo.claim(id!)).result).toBe('won');
  });
});
