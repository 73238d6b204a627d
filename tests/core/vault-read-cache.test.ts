import { rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOrError, VaultReadCache } from '../../core/vault/read-cache.js';
import { VaultFiles } from '../../core/vault/safe-fs.js';
import { tempDir } from '../helpers/vaults.js';

/**
 * core/vault/read-cache.ts: a cached read is the same as a fresh one (text, byte count, refusals), each
 * version of a file is parsed and derived once, and several files are cached side by side.
 */

async function setup(limit?: number): Promise<{ root: string; cache: VaultReadCache }> {
  const root = await tempDir();
  return {
    root,
    cache: new VaultReadCache(limit === undefined ? new VaultFiles(root) : new VaultFiles(root, limit)),
  };
}

describe('VaultReadCache', () => {
  it('a cached read gives the same text and byte count as the first', async () => {
    const { root, cache } = await setup();
    await writeFile(join(root, 'A.md'), 'grüß\n');
    const first = await cache.readText('A.md');
    expect(first).toEqual({ kind: 'ok', text: 'grüß\n', bytes: 7 });
    expect(await cache.readText('A.md')).toEqual(first);
  });

  it('refusals and missing files are never cached: read again, refused again', async () => {
    const { root, cache } = await setup(10);
    await writeFile(join(root, 'bad.md'), Buffer.from([0x61, 0xff]));
    await writeFile(join(root, 'big.md'), 'x'.repeat(11));
    for (let i = 0; i < 2; i++) {
      expect(await cache.readText('bad.md')).toMatchObject({ kind: 'refused', problem: 'not_utf8' });
      expect(await cache.readText('big.md')).toMatchObject({ kind: 'refused', problem: 'too_large' });
      expect(await cache.readText('none.md')).toEqual({ kind: 'missing' });
      expect(await cache.readMarkdown('bad.md')).toMatchObject({ kind: 'refused', problem: 'not_utf8' });
    }
  });

  it('a file removed after it was cached is missing; one put back is read again', async () => {
    const { root, cache } = await setup();
    await writeFile(join(root, 'A.md'), 'one');
    expect(await cache.readText('A.md')).toMatchObject({ text: 'one' });
    await rename(join(root, 'A.md'), join(root, 'A.old'));
    expect(await cache.readText('A.md')).toEqual({ kind: 'missing' });
    await writeFile(join(root, 'A.md'), 'two');
    expect(await cache.readText('A.md')).toMatchObject({ text: 'two' });
    await rename(join(root, 'A.md'), join(root, 'A.two'));
    await symlink(join(root, 'A.two'), join(root, 'A.md'));
    expect(await cache.readMarkdown('A.md')).toMatchObject({ kind: 'refused', problem: 'link' });
  });

  it('parses each version of each file once, with several files cached side by side', async () => {
    const { root, cache } = await setup();
    await writeFile(join(root, 'A.md'), '---\ntitle: a\n---\n');
    await writeFile(join(root, 'B.md'), '---\ntitle: b\n---\n');
    const a1 = await cache.readMarkdown('A.md');
    const b1 = await cache.readMarkdown('B.md');
    const a2 = await cache.readMarkdown('A.md');
    const b2 = await cache.readMarkdown('B.md');
    expect(a1).toMatchObject({ kind: 'ok', text: '---\ntitle: a\n---\n', doc: { data: { title: 'a' } } });
    expect(b1).toMatchObject({ kind: 'ok', doc: { data: { title: 'b' } } });
    expect('doc' in a1 && 'doc' in a2 && a1.doc === a2.doc).toBe(true);
    expect('doc' in b1 && 'doc' in b2 && b1.doc === b2.doc).toBe(true);
    // Read as text first, then as markdown: parsed then, once.
    await writeFile(join(root, 'C.md'), '---\ntitle: c\n---\n');
    await cache.readText('C.md');
    const c1 = await cache.readMarkdown('C.md');
    const c2 = await cache.readMarkdown('C.md');
    expect(c1).toMatchObject({ doc: { data: { title: 'c' } } });
    expect('doc' in c1 && 'doc' in c2 && c1.doc === c2.doc).toBe(true);
  });

  it('derives once per version and name; text that is not the cached version is derived every time', async () => {
    const { root, cache } = await setup();
    await writeFile(join(root, 'A.md'), 'one');
    const calls: string[] = [];
    const compute = (tag: string) => (text: string) => {
      calls.push(`${tag}:${text}`);
      return `${tag}(${text})`;
    };
    expect(cache.derive('A.md', 'one', 'len', compute('len'))).toBe('len(one)');
    expect(calls).toEqual(['len:one']);
    await cache.readText('A.md');
    expect(cache.derive('A.md', 'one', 'len', compute('len'))).toBe('len(one)');
    expect(cache.derive('A.md', 'one', 'len', compute('len'))).toBe('len(one)');
    expect(cache.derive('A.md', 'one', 'up', compute('up'))).toBe('up(one)');
    expect(cache.derive('A.md', 'one', 'up', compute('up'))).toBe('up(one)');
    expect(cache.derive('A.md', 'other', 'len', compute('len'))).toBe('len(other)');
    expect(cache.derive('A.md', 'other', 'len', compute('len'))).toBe('len(other)');
    expect(calls).toEqual(['len:one', 'len:one', 'up:one', 'len:other', 'len:other']);
    await writeFile(join(root, 'A.md'), 'two');
    await cache.readText('A.md');
    expect(cache.derive('A.md', 'two', 'len', compute('len'))).toBe('len(two)');
    expect(cache.derive('A.md', 'two', 'len', compute('len'))).toBe('len(two)');
    expect(calls.slice(5)).toEqual(['len:two']);
  });

  it('parseOrError returns the parse error instead of throwing', () => {
    expect(parseOrError('---\ntitle: x\n---\nbody\n')).toMatchObject({ data: { title: 'x' } });
    expect(parseOrError('---\n: : [\n---\n')).toBeInstanceOf(Error);
  });
});
