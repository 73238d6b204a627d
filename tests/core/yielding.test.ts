import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { git, remoteWithClones } from '../helpers/vaults.js';

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
    const report = await local.repo.sync();
    expect(report.lostClaims).toEqual(['E7']);
    expect(report.conflicts).toEqual([]);
    const tree = (await git(remote, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
    expect(tree.filter((p) => p.endsWith('/E7.md'))).toEqual(['In_Progress/cloud/E7.md']);
    expect(existsSync(join(local.dir, 'In_Progress/local/E7.md'))).toBe(false);
    expect(await git(local.dir, 'log', '--format=%s')).not.toContain('local: claim E7');
  }, 60_000);
});
