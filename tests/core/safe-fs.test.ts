import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsafePathError } from '../../core/errors.js';
import { pathComponents, VaultFiles } from '../../core/vault/safe-fs.js';
import { tempDir } from '../helpers/vaults.js';

/** A vault and, beside it, an "outside" folder holding a secret the vault must never reach. */
async function vaultWithOutside(): Promise<{ vault: string; outside: string; files: VaultFiles }> {
  const root = await tempDir();
  const vault = join(root, 'vault');
  const outside = join(root, 'outside');
  await mkdir(join(vault, 'Approved'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret.key'), 'a'.repeat(64));
  return { vault, outside, files: new VaultFiles(vault, 1024) };
}

describe('VaultFiles: never through a link', () => {
  it('refuses to read a symlinked file, a file under a symlinked folder, a FIFO and a device', async () => {
    const { vault, outside, files } = await vaultWithOutside();
    await symlink(join(outside, 'secret.key'), join(vault, 'Approved', 'X.md'));
    await symlink(outside, join(vault, 'Done'));
    execFileSync('mkfifo', [join(vault, 'Approved', 'F.md')]);
    await symlink('/dev/zero', join(vault, 'Approved', 'Z.md'));

    expect(await files.readText('Approved/X.md')).toMatchObject({ kind: 'refused', problem: 'link' });
    expect(await files.readText('Done/secret.key')).toMatchObject({
      kind: 'refused',
      problem: 'link',
      at: 'Done',
    });
    expect(await files.readText('Approved/F.md')).toMatchObject({ kind: 'refused', problem: 'special' });
    expect(await files.readText('Approved/Z.md')).toMatchObject({ kind: 'refused', problem: 'link' });
    expect(await files.readText('Approved/none.md')).toEqual({ kind: 'missing' });
  });

  it('never writes, appends, moves or removes through a symlinked folder', async () => {
    const { vault, outside, files } = await vaultWithOutside();
    await symlink(outside, join(vault, 'Done'));
    await writeFile(join(vault, 'Approved', 'A.md'), 'approved');
    await expect(files.writeAtomic('Done/new.md', 'x')).rejects.toBeInstanceOf(UnsafePathError);
    await expect(files.writeIfAbsent('Done/new.md', 'x')).rejects.toBeInstanceOf(UnsafePathError);
    await expect(files.append('Done/log.json', 'x')).rejects.toBeInstanceOf(UnsafePathError);
    await expect(files.move('Approved/A.md', 'Done/A.md')).rejects.toBeInstanceOf(UnsafePathError);
    await expect(files.move('Done/secret.key', 'Approved/K.md')).rejects.toBeInstanceOf(UnsafePathError);
    await expect(files.remove('Done/secret.key')).rejects.toBeInstanceOf(UnsafePathError);
    expect((await readdir(outside)).sort()).toEqual(['secret.key']);
    expect(await readFile(join(outside, 'secret.key'), 'utf8')).toBe('a'.repeat(64));
  });

  it('replaces a link at the target itself instead of writing through it, and removes a link without its target', async () => {
    const { vault, outside, files } = await vaultWithOutside();
    await symlink(join(outside, 'secret.key'), join(vault, 'Dashboard.md'));
    await files.writeAtomic('Dashboard.md', 'mine');
    expect(await readFile(join(vault, 'Dashboard.md'), 'utf8')).toBe('mine');
    expect(await readFile(join(outside, 'secret.key'), 'utf8')).toBe('a'.repeat(64));
    await symlink(join(outside, 'secret.key'), join(vault, 'Approved', 'L.md'));
    expect(await files.remove('Approved/L.md')).toBe(true);
    expect(await readFile(join(outside, 'secret.key'), 'utf8')).toBe('a'.repeat(64));
  });

  it('lists links and special files apart from regular files and folders', async () => {
    const { vault, outside, files } = await vaultWithOutside();
    await writeFile(join(vault, 'Approved', 'A.md'), 'a');
    await symlink(join(outside, 'secret.key'), join(vault, 'Approved', 'B.md'));
    await symlink(outside, join(vault, 'Approved', 'sub'));
    await mkdir(join(vault, 'Approved', 'real'));
    const listing = await files.list('Approved');
    expect(listing.files).toEqual(['A.md']);
    expect(listing.folders).toEqual(['real']);
    expect(listing.unsafe.map((u) => u.path).sort()).toEqual(['Approved/B.md', 'Approved/sub']);
    await symlink(outside, join(vault, 'Rejected'));
    expect((await files.list('Rejected')).unsafe).toEqual([
      expect.objectContaining({ path: 'Rejected', problem: 'link' }),
    ]);
  });

  it('refuses files over the size limit and invalid UTF-8 without reading them as text', async () => {
    const { vault, files } = await vaultWithOutside();
    await writeFile(join(vault, 'big.md'), 'x'.repeat(2048));
    await writeFile(join(vault, 'bad.md'), Buffer.from([0x2d, 0xff, 0xfe, 0x0a]));
    expect(await files.readText('big.md')).toMatchObject({ kind: 'refused', problem: 'too_large' });
    expect(await files.readText('bad.md')).toMatchObject({ kind: 'refused', problem: 'not_utf8' });
  });

  it('refuses paths that are not plain vault-relative paths', async () => {
    for (const bad of [
      '',
      '/etc/passwd',
      '../x',
      'a/../b',
      'a//b',
      '.git/config',
      'x/.GIT/hooks',
      'a\\b',
      'a\0b',
    ]) {
      expect(pathComponents(bad), bad).toBeUndefined();
    }
    expect(pathComponents('Needs_Action/email/X.md')).toEqual(['Needs_Action', 'email', 'X.md']);
  });

  it('moves exclusively: of two moves onto one target exactly one wins', async () => {
    const { vault, files } = await vaultWithOutside();
    await writeFile(join(vault, 'Approved', 'A.md'), 'a');
    await writeFile(join(vault, 'Approved', 'B.md'), 'b');
    const results = await Promise.all([
      files.move('Approved/A.md', 'Done/T.md'),
      files.move('Approved/B.md', 'Done/T.md'),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});
