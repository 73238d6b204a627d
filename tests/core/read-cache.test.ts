import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VaultReadCache } from '../../core/vault/read-cache.js';
import { VaultFiles } from '../../core/vault/safe-fs.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function vault(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fte-cache-'));
  dirs.push(dir);
  await mkdir(join(dir, 'Done'));
  return dir;
}

describe('VaultReadCache: read and parsed once per version of a file, never through a link', () => {
  it('gives the new text after a change, even one of the same size', async () => {
    const root = await vault();
    const cache = new VaultReadCache(new VaultFiles(root));
    await writeFile(join(root, 'Done', 'A.md'), '---\ntitle: one\n---\nbody\n');
    const first = await cache.readMarkdown('Done/A.md');
    expect(first.kind === 'ok' && !(('doc' in first ? first.doc : undefined) instanceof Error)).toBe(true);
    await writeFile(join(root, 'Done', 'A.md'), '---\ntitle: two\n---\nbody\n');
    const second = await cache.readMarkdown('Done/A.md');
    expect(second).toMatchObject({ kind: 'ok', doc: { data: { title: 'two' } } });
    // The same file again: the same parse (one parse per version).
    const third = await cache.readMarkdown('Done/A.md');
    expect(third.kind === 'ok' && 'doc' in third && 'doc' in second && third.doc === second.doc).toBe(true);
  });

  it('a cached file the remote replaces with a link is refused, not served from the cache', async () => {
    const root = await vault();
    const outside = await vault();
    await writeFile(join(outside, 'secret.md'), '---\ntitle: secret\n---\n');
    const cache = new VaultReadCache(new VaultFiles(root));
    await writeFile(join(root, 'Done', 'B.md'), '---\ntitle: fine\n---\n');
    expect((await cache.readText('Done/B.md')).kind).toBe('ok');
    await rename(join(root, 'Done', 'B.md'), join(root, 'Done', 'B.old'));
    await symlink(join(outside, 'secret.md'), join(root, 'Done', 'B.md'));
    const read = await cache.readText('Done/B.md');
    expect(read.kind).toBe('refused');
    expect(JSON.stringify(read)).not.toContain('secret');
  });

  it('an unparsable file is an error, cached like any other version', async () => {
    const root = await vault();
    const cache = new VaultReadCache(new VaultFiles(root));
    await writeFile(join(root, 'Done', 'C.md'), '---\n: : [\n---\n');
    const read = await cache.readMarkdown('Done/C.md');
    expect(read.kind === 'ok' && 'doc' in read && read.doc instanceof Error).toBe(true);
  });
});
