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

  it('another agent’s claim in our history is never dropped as ours', async () => {
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!;
    const local = clones.local!;
    await writeFile(join(cloud.dir, 'Needs_Action/email/E9.md'), '---\ntype: email\n---\n\nhi\n');
    await cloud.repo.commit('cloud: add E9');
    await cloud.repo.sync();
    await local.repo.sync();
    // A local commit whose subject names another agent's claim (only this clone's own yield): kept, both versions.
    await local.repo.change('other: claim E9', async () => {
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
    expect(await git(local.dir, 'log', '--format=%s')).toContain('other: claim E9');
  }, 60_000);
});
