import { mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initVault } from '../../core/init.js';
import { openStateDir, vaultId } from '../../executor/state.js';
import { tempDir } from './helpers.js';

describe("the executor's state folder", () => {
  it('keeps its vault id when the clone moves, differs between clones, and lives outside the working tree', async () => {
    const root = await tempDir();
    const a = join(root, 'a');
    const b = join(root, 'b');
    await initVault(a, { agent: 'local' });
    await initVault(b, { agent: 'local' });
    const idA = await vaultId(a);
    expect(idA).toMatch(/^[0-9a-f]{16}$/);
    expect(await vaultId(b)).not.toBe(idA);
    expect((await readFile(join(a, '.git/fte/vault-id'), 'utf8')).trim()).toBe(idA);

    const env = { FTE_STATE_DIR: join(root, 'state') };
    const before = await openStateDir(a, env);
    await writeFile(before.ledger, '{"kept":true}\n');
    await rename(a, join(root, 'moved'));
    const after = await openStateDir(join(root, 'moved'), env);
    expect(after.ledger).toBe(before.ledger);
    expect(await readFile(after.ledger, 'utf8')).toContain('kept');
  });

  it('ignores a vault-id that is a link or not an id, and refuses a state folder inside the vault', async () => {
    const root = await tempDir();
    const v = join(root, 'v');
    await initVault(v, { agent: 'local' });
    await mkdir(join(v, '.git/fte'), { recursive: true });
    await writeFile(join(root, 'outside'), 'ffffffffffffffff\n');
    await symlink(join(root, 'outside'), join(v, '.git/fte/vault-id'));
    const id = await vaultId(v);
    expect(id).not.toBe('ffffffffffffffff');
    await expect(openStateDir(v, { FTE_STATE_DIR: join(v, 'Plans') })).rejects.toThrow(/inside the vault/);
  });
});
