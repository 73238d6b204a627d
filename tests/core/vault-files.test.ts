import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsafePathError } from '../../core/errors.js';
import { MAX_VAULT_FILE_BYTES, pathComponents, VaultFiles } from '../../core/vault/safe-fs.js';
import { tempDir } from '../helpers/vaults.js';

/**
 * core/vault/safe-fs.ts, the only way vault content is read or written: each refusal with its problem, the
 * offending component and its reason; the size limits at their boundary; what each write does to a link,
 * a folder or a file in the way; and that the "outside" folder beside the vault is never read or changed.
 */

const LINK = 'a symbolic link (never followed)';
const SPECIAL = 'a device, FIFO or socket (never read)';
const NOT_FOLDER = 'a folder on the path is not a folder';
const BAD_PATH = 'not a plain vault-relative path';

async function setup(limit?: number): Promise<{ vault: string; outside: string; files: VaultFiles }> {
  const root = await tempDir();
  const vault = join(root, 'vault');
  const outside = join(root, 'outside');
  await mkdir(join(vault, 'Approved'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret.key'), 'outside secret');
  return {
    vault,
    outside,
    files: limit === undefined ? new VaultFiles(vault) : new VaultFiles(vault, limit),
  };
}

async function unsafeError(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnsafePathError);
  return (error as Error).message;
}

async function outsideUntouched(outside: string): Promise<void> {
  expect(await readdir(outside)).toEqual(['secret.key']);
  expect(await readFile(join(outside, 'secret.key'), 'utf8')).toBe('outside secret');
}

describe('pathComponents: plain vault-relative paths only', () => {
  it('accepts plain names, dotted names and names that only start like .git', () => {
    expect(pathComponents('a')).toEqual(['a']);
    expect(pathComponents('Plans/.gitkeep')).toEqual(['Plans', '.gitkeep']);
    expect(pathComponents('.github/x.md')).toEqual(['.github', 'x.md']);
    expect(pathComponents('a/.../b')).toEqual(['a', '...', 'b']);
    expect(pathComponents('x.git/y')).toEqual(['x.git', 'y']);
  });

  it('refuses a path longer than 4096 characters and accepts one of exactly 4096', () => {
    const exact = `${'a'.repeat(2047)}/${'b'.repeat(2048)}`;
    expect(exact).toHaveLength(4096);
    expect(pathComponents(exact)).toEqual(['a'.repeat(2047), 'b'.repeat(2048)]);
    expect(pathComponents(`${exact}c`)).toBeUndefined();
  });

  it('refuses a trailing slash, a leading ./, .git alone and in mixed case, and a backslash anywhere', () => {
    for (const bad of ['a/', './a', '.git', 'a/.Git', '.gIT/x', 'a/b\\', '\\a', '\0', 'a/..', '/']) {
      expect(pathComponents(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });
});

describe('VaultFiles.inspect and reads: what is where, never followed', () => {
  it('names the offending component of a nested path, with the reason', async () => {
    const { vault, outside, files } = await setup();
    await mkdir(join(vault, 'a', 'b'), { recursive: true });
    await symlink(outside, join(vault, 'a', 'b', 'link'));
    await writeFile(join(vault, 'a', 'file.md'), 'x');
    expect(await files.inspect('a/b/link/secret.key')).toEqual({
      kind: 'refused',
      problem: 'link',
      at: 'a/b/link',
      reason: LINK,
    });
    expect(await files.inspect('a/b/link')).toEqual({
      kind: 'refused',
      problem: 'link',
      at: 'a/b/link',
      reason: LINK,
    });
    expect(await files.inspect('a/file.md/x/y')).toEqual({
      kind: 'refused',
      problem: 'not_folder',
      at: 'a/file.md',
      reason: NOT_FOLDER,
    });
    expect(await files.inspect('a/missing/x')).toEqual({ kind: 'missing' });
    expect(await files.inspect('a/b')).toEqual({ kind: 'dir' });
    expect(await files.inspect('a/file.md')).toEqual({ kind: 'file', size: 1 });
    expect(await files.inspect('../outside/secret.key')).toEqual({
      kind: 'refused',
      problem: 'bad_path',
      at: '../outside/secret.key',
      reason: BAD_PATH,
    });
    execFileSync('mkfifo', [join(vault, 'a', 'fifo')]);
    expect(await files.inspect('a/fifo')).toEqual({
      kind: 'refused',
      problem: 'special',
      at: 'a/fifo',
      reason: SPECIAL,
    });
  });

  it('reads text with its byte count; a folder, a missing file, a link and bad paths are not read', async () => {
    const { vault, outside, files } = await setup();
    await writeFile(join(vault, 'Approved', 'A.md'), 'héllo\n');
    await symlink(join(outside, 'secret.key'), join(vault, 'Approved', 'L.md'));
    expect(await files.readText('Approved/A.md')).toEqual({ kind: 'ok', text: 'héllo\n', bytes: 7 });
    expect(await files.readText('Approved')).toEqual({
      kind: 'refused',
      problem: 'special',
      at: 'Approved',
      reason: 'a folder, not a file',
    });
    expect(await files.readBytes('Approved')).toMatchObject({ kind: 'refused', problem: 'special' });
    expect(await files.readText('Approved/none.md')).toEqual({ kind: 'missing' });
    expect(await files.readBytes('Approved/none.md')).toEqual({ kind: 'missing' });
    expect(await files.readText('Approved/L.md')).toEqual({
      kind: 'refused',
      problem: 'link',
      at: 'Approved/L.md',
      reason: LINK,
    });
    expect(await files.readText('/etc/hostname')).toMatchObject({ kind: 'refused', problem: 'bad_path' });
    const bytes = await files.readBytes('Approved/A.md');
    expect(bytes.kind === 'ok' && bytes.data.toString('utf8')).toBe('héllo\n');
    expect(await files.readText('Approved/empty.md')).toEqual({ kind: 'missing' });
    await writeFile(join(vault, 'Approved', 'empty.md'), '');
    expect(await files.readText('Approved/empty.md')).toEqual({ kind: 'ok', text: '', bytes: 0 });
  });

  it('reads a file of exactly the limit and refuses one byte more, saying how large it is', async () => {
    const { vault, files } = await setup(100);
    await writeFile(join(vault, 'at.md'), 'x'.repeat(100));
    await writeFile(join(vault, 'over.md'), 'x'.repeat(101));
    expect(await files.readText('at.md')).toEqual({ kind: 'ok', text: 'x'.repeat(100), bytes: 100 });
    expect(await files.readText('over.md')).toEqual({
      kind: 'refused',
      problem: 'too_large',
      at: 'over.md',
      reason: '101 bytes, more than 100',
    });
    expect(await files.readText('at.md', 99)).toMatchObject({
      kind: 'refused',
      reason: '100 bytes, more than 99',
    });
  });

  it('the default limit is 5 MiB: a file of 5 MiB is read, one byte more is not', async () => {
    expect(MAX_VAULT_FILE_BYTES).toBe(5 * 1024 * 1024);
    const { vault, files } = await setup();
    await writeFile(join(vault, 'at.md'), Buffer.alloc(MAX_VAULT_FILE_BYTES, 0x61));
    await writeFile(join(vault, 'over.md'), Buffer.alloc(MAX_VAULT_FILE_BYTES + 1, 0x61));
    const at = await files.readBytes('at.md');
    expect(at.kind === 'ok' && at.data.length).toBe(MAX_VAULT_FILE_BYTES);
    expect(await files.readBytes('over.md')).toMatchObject({
      kind: 'refused',
      problem: 'too_large',
      reason: `${MAX_VAULT_FILE_BYTES + 1} bytes, more than ${MAX_VAULT_FILE_BYTES}`,
    });
  });

  it('refuses invalid UTF-8 with its reason', async () => {
    const { vault, files } = await setup();
    await writeFile(join(vault, 'bad.md'), Buffer.from([0x61, 0xc3]));
    expect(await files.readText('bad.md')).toEqual({
      kind: 'refused',
      problem: 'not_utf8',
      at: 'bad.md',
      reason: 'not valid UTF-8 text',
    });
    const raw = await files.readBytes('bad.md');
    expect(raw.kind === 'ok' && [...raw.data]).toEqual([0x61, 0xc3]);
  });

  it('exists only for a regular file', async () => {
    const { vault, outside, files } = await setup();
    await writeFile(join(vault, 'Approved', 'A.md'), 'a');
    await symlink(join(outside, 'secret.key'), join(vault, 'Approved', 'L.md'));
    expect(await files.exists('Approved/A.md')).toBe(true);
    expect(await files.exists('Approved')).toBe(false);
    expect(await files.exists('Approved/L.md')).toBe(false);
    expect(await files.exists('Approved/none.md')).toBe(false);
  });
  it('a vault root that is a file refuses every path under it as not a folder', async () => {
    const { vault } = await setup();
    await writeFile(join(vault, 'plain'), 'x');
    const files = new VaultFiles(join(vault, 'plain'));
    expect(await files.inspect('a/b.md')).toEqual({
      kind: 'refused',
      problem: 'not_folder',
      at: 'a',
      reason: NOT_FOLDER,
    });
  });

  it('an error other than a missing path is thrown, not taken for missing or for a file in the way', async () => {
    const { files } = await setup();
    const long = 'n'.repeat(300);
    await expect(files.inspect(`Approved/${long}`)).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    await expect(files.readText(`Approved/${long}/x.md`)).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    await expect(files.writeAtomic(`Approved/${long}/x.md`, 'x')).rejects.toMatchObject({
      code: 'ENAMETOOLONG',
    });
  });
});

describe('VaultFiles.list', () => {
  it('sorts files and folders, leaves out dot-folders, and lists links and special files with their reason', async () => {
    const { vault, outside, files } = await setup();
    const dir = join(vault, 'Approved');
    for (const name of ['c.md', 'a.md', 'e.txt', 'b.md', '.hidden.md'])
      await writeFile(join(dir, name), name);
    for (const name of ['zeta', 'alpha', '.git-like', 'mid']) await mkdir(join(dir, name));
    await symlink(outside, join(dir, 'out'));
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    const listing = await files.list('Approved');
    expect(listing.files).toEqual(['.hidden.md', 'a.md', 'b.md', 'c.md', 'e.txt']);
    expect(listing.folders).toEqual(['alpha', 'mid', 'zeta']);
    expect(listing.unsafe.sort((x, y) => x.path.localeCompare(y.path))).toEqual([
      { path: 'Approved/out', problem: 'link', reason: LINK },
      { path: 'Approved/pipe', problem: 'special', reason: SPECIAL },
    ]);
    expect(await files.listMarkdown('Approved')).toEqual(['.hidden.md', 'a.md', 'b.md', 'c.md']);
    expect(await files.listFolders('Approved')).toEqual(['alpha', 'mid', 'zeta']);
  });

  it('sorts as JavaScript compares strings, not in the order the folder is read', async () => {
    const { vault, files } = await setup();
    // U+FF01 sorts before U+1F600 by bytes (how the folder is read) but after it by UTF-16 code units.
    const names = ['\uff01.md', '\u{1f600}.md', 'a.md'];
    for (const name of names) {
      await writeFile(join(vault, 'Approved', name), name);
      await mkdir(join(vault, 'Approved', `${name}.d`));
    }
    const listing = await files.list('Approved');
    expect(listing.files).toEqual(['a.md', '\u{1f600}.md', '\uff01.md']);
    expect(listing.folders).toEqual(['a.md.d', '\u{1f600}.md.d', '\uff01.md.d']);
  });

  it('an absent folder and a file are empty listings; a folder under a link is one unsafe entry', async () => {
    const { vault, outside, files } = await setup();
    await writeFile(join(vault, 'Approved', 'A.md'), 'a');
    await symlink(outside, join(vault, 'Out'));
    const empty = { files: [], folders: [], unsafe: [] };
    expect(await files.list('Nothing')).toEqual(empty);
    expect(await files.list('Approved/A.md')).toEqual(empty);
    expect(await files.list('Out/sub')).toEqual({
      files: [],
      folders: [],
      unsafe: [{ path: 'Out', problem: 'link', reason: LINK }],
    });
  });
});

describe('VaultFiles writes: inside the vault, never through anything', () => {
  it('writeAtomic creates the folders on the way, replaces a file, and leaves no temp file', async () => {
    const { vault, files } = await setup();
    await files.writeAtomic('New/deep/er/X.md', 'one');
    expect(await readFile(join(vault, 'New/deep/er/X.md'), 'utf8')).toBe('one');
    await files.writeAtomic('New/deep/er/X.md', Buffer.from('two'));
    expect(await readFile(join(vault, 'New/deep/er/X.md'), 'utf8')).toBe('two');
    expect(await readdir(join(vault, 'New/deep/er'))).toEqual(['X.md']);
    expect((await lstat(join(vault, 'New/deep'))).isDirectory()).toBe(true);
  });

  it('writeAtomic refuses a bad path, a folder in the way, a file or a link on the way', async () => {
    const { vault, outside, files } = await setup();
    await writeFile(join(vault, 'Approved', 'A.md'), 'a');
    await symlink(outside, join(vault, 'Approved', 'out'));
    expect(await unsafeError(files.writeAtomic('../outside/secret.key', 'x'))).toBe(
      `unsafe vault path "../outside/secret.key": ${BAD_PATH}`,
    );
    expect(await unsafeError(files.writeAtomic('Approved', 'x'))).toBe(
      'unsafe vault path "Approved": a folder is in the way',
    );
    expect(await unsafeError(files.writeAtomic('Approved/A.md/B.md', 'x'))).toBe(
      `unsafe vault path "Approved/A.md": ${NOT_FOLDER}`,
    );
    expect(await unsafeError(files.writeAtomic('Approved/out/secret.key', 'x'))).toBe(
      `unsafe vault path "Approved/out": ${LINK}`,
    );
    expect(await unsafeError(files.writeAtomic('Approved/out/new/x.md', 'x'))).toBe(
      `unsafe vault path "Approved/out": ${LINK}`,
    );
    expect(await readFile(join(vault, 'Approved', 'A.md'), 'utf8')).toBe('a');
    await outsideUntouched(outside);
  });

  it('a write that fails leaves no temp file behind', async () => {
    const { vault, files } = await setup();
    await expect(files.writeAtomic('Approved/A.md', 12 as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await expect(files.writeIfAbsent('Approved/B.md', {} as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
    });
    expect(await readdir(join(vault, 'Approved'))).toEqual([]);
  });

  it('writeAtomic replaces a FIFO at the target itself', async () => {
    const { vault, files } = await setup();
    execFileSync('mkfifo', [join(vault, 'Approved', 'F.md')]);
    await files.writeAtomic('Approved/F.md', 'file now');
    expect(await readFile(join(vault, 'Approved', 'F.md'), 'utf8')).toBe('file now');
  });

  it('writeIfAbsent writes once; a file, a folder or a link already there wins, and no temp file is left', async () => {
    const { vault, outside, files } = await setup();
    await symlink(join(outside, 'secret.key'), join(vault, 'Approved', 'L.md'));
    expect(await files.writeIfAbsent('Approved/sub/A.md', 'first')).toBe(true);
    expect(await files.writeIfAbsent('Approved/sub/A.md', 'second')).toBe(false);
    expect(await readFile(join(vault, 'Approved/sub/A.md'), 'utf8')).toBe('first');
    expect(await readdir(join(vault, 'Approved/sub'))).toEqual(['A.md']);
    expect(await files.writeIfAbsent('Approved/sub', 'x')).toBe(false);
    expect(await files.writeIfAbsent('Approved/L.md', 'x')).toBe(false);
    expect(await readlink(join(vault, 'Approved', 'L.md'))).toBe(join(outside, 'secret.key'));
    expect((await readdir(join(vault, 'Approved'))).sort()).toEqual(['L.md', 'sub']);
    expect(await unsafeError(files.writeIfAbsent('a/../b', 'x'))).toContain(BAD_PATH);
    await outsideUntouched(outside);
  });

  it('append creates then appends; a folder, a link or a FIFO at the target is refused with its reason', async () => {
    const { vault, outside, files } = await setup();
    await files.append('Logs/x/log.json', 'one\n');
    await files.append('Logs/x/log.json', 'two\n');
    expect(await readFile(join(vault, 'Logs/x/log.json'), 'utf8')).toBe('one\ntwo\n');
    await symlink(join(outside, 'secret.key'), join(vault, 'Approved', 'L.json'));
    execFileSync('mkfifo', [join(vault, 'Approved', 'F.json')]);
    expect(await unsafeError(files.append('Approved/L.json', 'x'))).toBe(
      `unsafe vault path "Approved/L.json": ${LINK}`,
    );
    expect(await unsafeError(files.append('Approved/F.json', 'x'))).toBe(
      `unsafe vault path "Approved/F.json": ${SPECIAL}`,
    );
    expect(await unsafeError(files.append('Approved', 'x'))).toBe(
      'unsafe vault path "Approved": a folder is in the way',
    );
    expect(await unsafeError(files.append('/tmp/x', 'x'))).toContain(BAD_PATH);
    await outsideUntouched(outside);
  });

  it('move: exclusive by default, replacing only when asked; refuses what is not a regular file', async () => {
    const { vault, outside, files } = await setup();
    const at = (p: string) => join(vault, p);
    await writeFile(at('Approved/A.md'), 'a');
    await writeFile(at('Approved/B.md'), 'b');
    expect(await files.move('Approved/A.md', 'Done/sub/A.md')).toBe(true);
    expect(await readFile(at('Done/sub/A.md'), 'utf8')).toBe('a');
    expect(await readdir(at('Approved'))).toEqual(['B.md']);
    expect(await files.move('Approved/A.md', 'Done/A2.md')).toBe(false);
    expect(await files.move('Approved/B.md', 'Done/sub/A.md')).toBe(false);
    expect(await readFile(at('Done/sub/A.md'), 'utf8')).toBe('a');
    expect(await readFile(at('Approved/B.md'), 'utf8')).toBe('b');
    expect(await files.move('Approved/B.md', 'Done/sub/A.md', { exclusive: false })).toBe(true);
    expect(await readFile(at('Done/sub/A.md'), 'utf8')).toBe('b');
    expect(await readdir(at('Approved'))).toEqual([]);
    expect(await files.move('Done/sub/A.md', 'Done/C.md', { exclusive: true })).toBe(true);

    await symlink(join(outside, 'secret.key'), at('Approved/L.md'));
    await writeFile(at('Approved/D.md'), 'd');
    expect(await unsafeError(files.move('Approved/L.md', 'Done/L.md'))).toBe(
      `unsafe vault path "Approved/L.md": ${LINK}`,
    );
    expect(await unsafeError(files.move('Done', 'Updates/Done'))).toBe(
      'unsafe vault path "Done": not a file',
    );
    expect(await unsafeError(files.move('Approved/D.md', '../D.md'))).toContain(BAD_PATH);
    expect(await unsafeError(files.move('Approved/D.md', 'Done'))).toBe(
      'unsafe vault path "Done": a folder is in the way',
    );
    expect(await unsafeError(files.move('Approved/D.md', 'Approved/D.md/x'))).toBe(
      `unsafe vault path "Approved/D.md": ${NOT_FOLDER}`,
    );
    // A link at the target itself: an exclusive move loses to it, a replacing move replaces the link.
    expect(await files.move('Approved/D.md', 'Approved/L.md')).toBe(false);
    expect(await readlink(at('Approved/L.md'))).toBe(join(outside, 'secret.key'));
    expect(await files.move('Approved/D.md', 'Approved/L.md', { exclusive: false })).toBe(true);
    expect(await readFile(at('Approved/L.md'), 'utf8')).toBe('d');
    await outsideUntouched(outside);
  });

  it('of two writeIfAbsent of one path exactly one writes, and its content is what is there', async () => {
    const { vault, files } = await setup();
    const results = await Promise.all([
      files.writeIfAbsent('Approved/W.md', 'one'),
      files.writeIfAbsent('Approved/W.md', 'two'),
    ]);
    expect([...results].sort()).toEqual([false, true]);
    expect(await readFile(join(vault, 'Approved', 'W.md'), 'utf8')).toBe(results[0] ? 'one' : 'two');
    expect(await readdir(join(vault, 'Approved'))).toEqual(['W.md']);
  });

  it('of two moves of one file to two targets exactly one wins and exactly one copy is left', async () => {
    const { vault, files } = await setup();
    await writeFile(join(vault, 'Approved', 'A.md'), 'a');
    await mkdir(join(vault, 'Done'));
    const results = await Promise.all([
      files.move('Approved/A.md', 'Done/one.md'),
      files.move('Approved/A.md', 'Done/two.md'),
    ]);
    expect([...results].sort()).toEqual([false, true]);
    expect(await readdir(join(vault, 'Done'))).toHaveLength(1);
    expect(await readdir(join(vault, 'Approved'))).toEqual([]);
  });

  it('of two removes of one file exactly one removes it', async () => {
    const { vault, files } = await setup();
    await writeFile(join(vault, 'Approved', 'R.md'), 'r');
    const results = await Promise.all([files.remove('Approved/R.md'), files.remove('Approved/R.md')]);
    expect([...results].sort()).toEqual([false, true]);
    expect(await readdir(join(vault, 'Approved'))).toEqual([]);
  });

  it('remove: a file or a link itself, never a folder or anything under a link', async () => {
    const { vault, outside, files } = await setup();
    await writeFile(join(vault, 'Approved', 'A.md'), 'a');
    await symlink(outside, join(vault, 'Out'));
    expect(await files.remove('Approved/A.md')).toBe(true);
    expect(await files.remove('Approved/A.md')).toBe(false);
    expect(await readdir(join(vault, 'Approved'))).toEqual([]);
    expect(await unsafeError(files.remove('Approved'))).toBe(
      'unsafe vault path "Approved": a folder, not a file',
    );
    expect(await unsafeError(files.remove('Out/secret.key'))).toBe(
      `unsafe vault path "Out/secret.key": ${LINK}`,
    );
    expect(await files.remove('Out')).toBe(true);
    await outsideUntouched(outside);
  });
});
