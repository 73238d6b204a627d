import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FteError } from '../../core/errors.js';
import { initVault } from '../../core/init.js';
import { LocalVaultPort } from '../../core/vault/local-port.js';
import { VaultRepo } from '../../core/vault-repo.js';
import { git, tempDir } from '../helpers/vaults.js';

/**
 * core/vault/local-port.ts, the in-process VaultPort: it applies all of a change or none of it —
 * preconditions stated or implied, links, secrets, and a failure midway that gives every touched path its
 * earlier bytes back.
 */

const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

async function vault(): Promise<{ dir: string; repo: VaultRepo; port: LocalVaultPort; outside: string }> {
  const base = await tempDir();
  const dir = join(base, 'vault');
  const outside = join(base, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'notes.md'), 'private');
  await initVault(dir, { agent: 'cloud' });
  const repo = new VaultRepo({ root: dir, agent: 'cloud' });
  return { dir, repo, outside, port: new LocalVaultPort(repo, () => new Date('2026-03-04T05:06:07Z')) };
}
const head = async (dir: string) => (await git(dir, 'rev-parse', 'HEAD')).trim();
const clean = async (dir: string) =>
  (await git(dir, 'status', '--porcelain', '--untracked-files=all')).trim();

describe('LocalVaultPort', () => {
  it('refuses a change that writes a secret, by name or by content (base64 too), before anything is written', async () => {
    const { dir, port } = await vault();
    const before = await head(dir);
    const result = await port.apply({
      message: 'cloud: draft X',
      operations: [
        { op: 'write', path: 'Updates/ok.md', content: 'fine' },
        { op: 'write', path: 'Updates/.env', content: 'A=1' },
        { op: 'write', path: 'Updates/aws.md', content: 'id AKIAZ7XQ3MPL4WNBT2RD\n' },
        {
          op: 'write',
          path: 'Updates/raw.md',
          content: Buffer.from('id AKIAZ7XQ3MPL4WNBT2RD\n').toString('base64'),
          encoding: 'base64',
        },
        { op: 'move', from: 'Updates/ok.md', to: 'Updates/id_rsa' },
        { op: 'delete', path: 'Updates/old.env' },
      ],
    });
    expect(result).toEqual({
      kind: 'secret',
      refused: [
        { path: 'Updates/.env', reason: 'refused: environment file (.env*, *.env)' },
        {
          path: 'Updates/aws.md',
          reason: expect.stringMatching(/^refused: contains .+ \(rule secretlint\/aws:.+\)$/),
        },
        {
          path: 'Updates/raw.md',
          reason: expect.stringMatching(/^refused: contains .+ \(rule secretlint\/aws:.+\)$/),
        },
        { path: 'Updates/id_rsa', reason: 'refused: SSH key' },
      ],
    });
    expect(await head(dir)).toBe(before);
    expect(await readdir(join(dir, 'Updates'))).not.toContain('ok.md');
  });

  it('scans a raw message (.eml) as raw mail: its DKIM signature is no secret, the same text in a note is', async () => {
    const { dir, port } = await vault();
    const dkim =
      'DKIM-Signature: v=1; a=rsa-sha256; d=gmail.com;\n bh=Xq3v9Lk2Zp7Yw1Rt5Nm8Bc4Hd6Jf0Gs2Ka9Ue3Wi7Oy1Qx5Tv8Pr=;\n';
    expect(
      await port.apply({
        message: 'cloud: intake X',
        operations: [{ op: 'write', path: 'Updates/X.eml', content: dkim }],
      }),
    ).toEqual({ kind: 'applied', committed: true, refused: [] });
    expect(await readFile(join(dir, 'Updates/X.eml'), 'utf8')).toBe(dkim);
    expect(
      await port.apply({
        message: 'cloud: intake Y',
        operations: [{ op: 'write', path: 'Updates/Y.md', content: dkim }],
      }),
    ).toEqual({
      kind: 'secret',
      refused: [{ path: 'Updates/Y.md', reason: expect.stringContaining('(rule long-base64)') }],
    });
  });

  it('a move out of or into a linked folder names the link, not the path under it', async () => {
    const { dir, repo, port, outside } = await vault();
    await symlink(outside, join(dir, 'Updates/out'));
    await writeFile(join(dir, 'Updates/a.md'), 'a');
    await repo.commit('cloud: add');
    const LINK = 'a symbolic link (never followed)';
    expect(
      await port.apply({
        message: 'cloud: m X',
        operations: [{ op: 'move', from: 'Updates/out/notes.md', to: 'Updates/n.md' }],
      }),
    ).toEqual({ kind: 'conflict', reason: `Updates/out: ${LINK}` });
    expect(
      await port.apply({
        message: 'cloud: m X',
        operations: [{ op: 'move', from: 'Updates/a.md', to: 'Updates/out/a.md' }],
      }),
    ).toEqual({ kind: 'conflict', reason: `Updates/out: ${LINK}` });
    expect(await readdir(outside)).toEqual(['notes.md']);
  });

  it('writes base64 content as bytes; ensure keeps what is there; a change of nothing commits nothing', async () => {
    const { dir, port } = await vault();
    const bytes = Buffer.from([0, 1, 2, 0xff]);
    expect(
      await port.apply({
        message: 'cloud: intake X',
        operations: [
          { op: 'write', path: 'Updates/raw.bin', content: bytes.toString('base64'), encoding: 'base64' },
          { op: 'write', path: 'Updates/e.md', content: 'first', mode: 'ensure' },
        ],
      }),
    ).toEqual({ kind: 'applied', committed: true, refused: [] });
    expect(await readFile(join(dir, 'Updates/raw.bin'))).toEqual(bytes);
    const before = await head(dir);
    expect(
      await port.apply({
        message: 'cloud: intake X',
        operations: [
          { op: 'write', path: 'Updates/e.md', content: 'second', mode: 'ensure' },
          { op: 'delete', path: 'Updates/none.md' },
        ],
      }),
    ).toEqual({ kind: 'applied', committed: false, refused: [] });
    expect(await readFile(join(dir, 'Updates/e.md'), 'utf8')).toBe('first');
    expect(await head(dir)).toBe(before);
    expect(
      await port.apply({
        message: 'cloud: update X',
        operations: [{ op: 'write', path: 'Updates/e.md', content: 'third', mode: 'replace' }],
      }),
    ).toEqual({ kind: 'applied', committed: true, refused: [] });
    expect(await readFile(join(dir, 'Updates/e.md'), 'utf8')).toBe('third');
    expect(await clean(dir)).toBe('');
  });

  it('checks each stated precondition and says which failed', async () => {
    const { dir, repo, port, outside } = await vault();
    await writeFile(join(dir, 'Updates/x.md'), 'x');
    await symlink(join(outside, 'notes.md'), join(dir, 'Updates/l.md'));
    await repo.commit('cloud: add x');
    const apply = (pre: object) =>
      port.apply({
        message: 'cloud: write Y',
        preconditions: [pre as never],
        operations: [{ op: 'write', path: 'Updates/y.md', content: 'y' }],
      });
    expect(await apply({ kind: 'absent', path: 'Updates/x.md' })).toEqual({
      kind: 'conflict',
      reason: 'Updates/x.md already exists',
    });
    expect(await apply({ kind: 'absent', path: 'Updates' })).toEqual({
      kind: 'conflict',
      reason: 'Updates already exists',
    });
    expect(await apply({ kind: 'present', path: 'Updates/none.md' })).toEqual({
      kind: 'conflict',
      reason: 'Updates/none.md is not there',
    });
    expect(await apply({ kind: 'present', path: 'Updates' })).toEqual({
      kind: 'conflict',
      reason: 'Updates is not there',
    });
    expect(await apply({ kind: 'sha256', path: 'Updates/none.md', sha256: sha('x') })).toEqual({
      kind: 'conflict',
      reason: 'Updates/none.md is not there',
    });
    expect(await apply({ kind: 'sha256', path: 'Updates/x.md', sha256: sha('y') })).toEqual({
      kind: 'conflict',
      reason: 'Updates/x.md changed since it was read',
    });
    expect(await apply({ kind: 'absent', path: 'Updates/l.md' })).toEqual({
      kind: 'conflict',
      reason: 'Updates/l.md: a symbolic link (never followed)',
    });
    expect(await apply({ kind: 'present', path: 'Updates/l.md/x' })).toEqual({
      kind: 'conflict',
      reason: 'Updates/l.md/x: a symbolic link (never followed)',
    });
    expect(await readdir(join(dir, 'Updates'))).not.toContain('y.md');
    expect(await apply({ kind: 'sha256', path: 'Updates/x.md', sha256: sha('x') })).toEqual({
      kind: 'applied',
      committed: true,
      refused: [],
    });
    expect(await apply({ kind: 'absent', path: 'Updates/z.md' })).toMatchObject({
      kind: 'conflict',
      reason: 'Updates/y.md already exists',
    });
    expect(
      await port.apply({
        message: 'cloud: write Z',
        preconditions: [
          { kind: 'present', path: 'Updates/x.md' },
          { kind: 'absent', path: 'Updates/z.md' },
        ],
        operations: [{ op: 'write', path: 'Updates/z.md', content: 'z' }],
      }),
    ).toMatchObject({ kind: 'applied', committed: true });
  });

  it('a link at the path itself may be replaced or deleted, but never moved; a link on the way is never followed', async () => {
    const { dir, repo, port, outside } = await vault();
    const target = join(outside, 'notes.md');
    await symlink(target, join(dir, 'Updates/l.md'));
    await symlink(target, join(dir, 'Updates/m.md'));
    await symlink(outside, join(dir, 'Updates/out'));
    await writeFile(join(dir, 'Updates/a.md'), 'a');
    await repo.commit('cloud: add links');
    const conflict = (reason: string) => ({ kind: 'conflict', reason });
    const LINK = 'a symbolic link (never followed)';
    expect(
      await port.apply({
        message: 'cloud: m X',
        operations: [{ op: 'move', from: 'Updates/l.md', to: 'Updates/n.md' }],
      }),
    ).toEqual(conflict(`Updates/l.md: ${LINK}`));
    expect(
      await port.apply({
        message: 'cloud: m X',
        operations: [{ op: 'move', from: 'Updates/a.md', to: 'Updates/l.md' }],
      }),
    ).toEqual(conflict(`Updates/l.md: ${LINK}`));
    expect(
      await port.apply({
        message: 'cloud: m X',
        operations: [{ op: 'delete', path: 'Updates/out/notes.md' }],
      }),
    ).toEqual(conflict(`Updates/out: ${LINK}`));
    expect(
      await port.apply({
        message: 'cloud: m X',
        operations: [{ op: 'write', path: 'Updates/out/new.md', content: 'x', mode: 'replace' }],
      }),
    ).toEqual(conflict(`Updates/out: ${LINK}`));
    expect(await readlink(join(dir, 'Updates/l.md'))).toBe(target);
    expect(
      await port.apply({
        message: 'cloud: fix X',
        operations: [
          { op: 'write', path: 'Updates/l.md', content: 'mine', mode: 'replace' },
          { op: 'delete', path: 'Updates/m.md' },
        ],
      }),
    ).toMatchObject({ kind: 'applied', committed: true });
    expect(await readFile(join(dir, 'Updates/l.md'), 'utf8')).toBe('mine');
    expect((await readdir(join(dir, 'Updates'))).sort()).toEqual(['.gitkeep', 'a.md', 'l.md', 'out']);
    expect(await readdir(outside)).toEqual(['notes.md']);
    expect(await readFile(target, 'utf8')).toBe('private');
  });

  it('a move needs its source present and its target absent', async () => {
    const { dir, repo, port } = await vault();
    await writeFile(join(dir, 'Updates/a.md'), 'a');
    await writeFile(join(dir, 'Updates/b.md'), 'b');
    await repo.commit('cloud: add');
    expect(
      await port.apply({
        message: 'cloud: m X',
        operations: [{ op: 'move', from: 'Updates/a.md', to: 'Updates/b.md' }],
      }),
    ).toEqual({
      kind: 'conflict',
      reason: 'Updates/b.md already exists',
    });
    expect(
      await port.apply({
        message: 'cloud: m X',
        operations: [{ op: 'move', from: 'Updates/c.md', to: 'Updates/d.md' }],
      }),
    ).toEqual({
      kind: 'conflict',
      reason: 'Updates/c.md is not there',
    });
    expect(
      await port.apply({
        message: 'cloud: m X',
        operations: [{ op: 'move', from: 'Updates/a.md', to: 'Done/a.md' }],
      }),
    ).toMatchObject({
      kind: 'applied',
      committed: true,
    });
    expect(await readFile(join(dir, 'Done/a.md'), 'utf8')).toBe('a');
    expect(await clean(dir)).toBe('');
  });

  it('a change that fails midway gives every touched path its earlier bytes back and commits nothing', async () => {
    const { dir, repo, port } = await vault();
    await writeFile(join(dir, 'Updates/x.md'), 'x');
    await writeFile(join(dir, 'Updates/s.md'), 's');
    await writeFile(join(dir, 'Updates/gone.md'), 'gone');
    await repo.commit('cloud: add');
    const before = await head(dir);
    // The third write's folder is the file the second one wrote: it fails after two writes and a delete.
    const error = await port
      .apply({
        message: 'cloud: draft X',
        operations: [
          { op: 'write', path: 'Updates/x.md', content: 'new', mode: 'replace' },
          { op: 'write', path: 'Updates/x.md', content: 'newer', mode: 'replace' },
          { op: 'delete', path: 'Updates/gone.md' },
          { op: 'write', path: 'Updates/n/f.md', content: 'f' },
          { op: 'write', path: 'Updates/n/f.md/g.md', content: 'g' },
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FteError);
    expect((error as Error).message).toContain('"Updates/n/f.md"');
    expect(await readFile(join(dir, 'Updates/x.md'), 'utf8')).toBe('x');
    expect(await readFile(join(dir, 'Updates/gone.md'), 'utf8')).toBe('gone');
    expect(await readdir(join(dir, 'Updates/n'))).toEqual([]);
    // A move whose target an earlier write of the same change created.
    const moved = await port
      .apply({
        message: 'cloud: draft X',
        operations: [
          { op: 'write', path: 'Updates/t.md', content: 't' },
          { op: 'move', from: 'Updates/s.md', to: 'Updates/t.md' },
        ],
      })
      .catch((e: unknown) => e);
    expect(moved).toBeInstanceOf(FteError);
    expect((moved as Error).message).toBe(
      'cannot move Updates/s.md to Updates/t.md: the source went away or the target appeared',
    );
    expect((await readdir(join(dir, 'Updates'))).sort()).toEqual([
      '.gitkeep',
      'gone.md',
      'n',
      's.md',
      'x.md',
    ]);
    expect(await readFile(join(dir, 'Updates/s.md'), 'utf8')).toBe('s');
    expect(await head(dir)).toBe(before);
    expect(await clean(dir)).toBe('');
  });

  it('stamps audit records with the port clock, parameters defaulted, and commits the day log', async () => {
    const { dir, port } = await vault();
    expect(
      await port.apply({
        message: 'cloud: audit X',
        operations: [],
        audit: [
          { action_type: 'approval_requested', actor: 'cloud', target: 'X', result: 'ok' },
          { action_type: 'sent', actor: 'cloud', target: 'X', result: 'ok', parameters: { to: 'a@b' } },
        ],
      }),
    ).toEqual({ kind: 'applied', committed: true, refused: [] });
    const lines = (await readFile(join(dir, 'Logs/2026-03-04.json'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      expect.objectContaining({
        action_type: 'approval_requested',
        parameters: {},
        timestamp: expect.stringMatching(/^2026-03-04T05:06:07/),
      }),
      expect.objectContaining({ action_type: 'sent', parameters: { to: 'a@b' } }),
    ]);
    expect(await clean(dir)).toBe('');
  });
});
