import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidTaskIdError, isSafeTaskId, MAX_ID_BYTES, sanitizeTaskId } from '../../core/ids.js';
import { insideVault, itemPaths, PathEscapeError } from '../../core/layout.js';
import { tempDir } from '../helpers/vaults.js';

const HOSTILE = [
  '../../x',
  '..',
  '/etc/passwd',
  'a/../../b',
  '..\\..\\windows',
  'x'.repeat(1000),
  '日本語'.repeat(200),
  'ctrl\u0000chars\u001b[31m\u0007\r\n',
  'zero\u200bwidth\u202eRLO',
  '.hidden',
  'trailing.',
  'e\u0301motion café',
  '😀'.repeat(100),
  ' spaces  and\ttabs ',
  'Re: Invoice #42 / January?*<>|"',
];

/** Deterministic pseudo-random strings over a hostile alphabet. */
function* randomNames(count: number): Generator<string> {
  const alphabet = [
    '.',
    '/',
    '\\',
    '\u0000',
    '\n',
    'a',
    'Z',
    '9',
    '_',
    '-',
    ' ',
    'é',
    '日',
    '😀',
    '\u202e',
    ':',
  ];
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  for (let i = 0; i < count; i++) {
    const length = 1 + (next() % 300);
    yield Array.from({ length }, () => alphabet[next() % alphabet.length]).join('');
  }
}

describe('sanitizeTaskId', () => {
  it('keeps ordinary ids unchanged', () => {
    for (const id of ['EMAIL_18c2f9a', 'invoice-2026-001', 'WA_4915123.1'])
      expect(sanitizeTaskId(id)).toBe(id);
  });

  it('never yields a separator, a dot-dot, a control character or an over-long name', () => {
    for (const raw of [...HOSTILE, ...randomNames(500)]) {
      let id: string;
      try {
        id = sanitizeTaskId(raw);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidTaskIdError);
        continue;
      }
      expect(id).not.toMatch(/[/\\\u0000-\u001f\u007f]/);
      expect(id).not.toContain('..');
      expect(id.startsWith('.')).toBe(false);
      expect(Buffer.byteLength(id)).toBeLessThanOrEqual(MAX_ID_BYTES);
      expect(sanitizeTaskId(id)).toBe(id);
      expect(isSafeTaskId(id)).toBe(true);
    }
  });

  it('keeps different inputs apart even when they clean up to the same text', () => {
    expect(sanitizeTaskId('a/b')).not.toBe(sanitizeTaskId('a_b'));
    expect(sanitizeTaskId('x'.repeat(300))).not.toBe(sanitizeTaskId(`${'x'.repeat(299)}y`));
  });

  it('refuses input with nothing usable in it', () => {
    for (const raw of ['', '..', '/', '...', '\u0000'])
      expect(() => sanitizeTaskId(raw)).toThrow(InvalidTaskIdError);
  });
});

describe('paths built from hostile names', () => {
  it('stay inside the vault when written to disk', async () => {
    const vault = await tempDir();
    await mkdir(join(vault, 'Needs_Action', 'email'), { recursive: true });
    for (const raw of [...HOSTILE, ...randomNames(200)]) {
      let id: string;
      try {
        id = sanitizeTaskId(raw);
      } catch {
        continue;
      }
      const abs = insideVault(vault, itemPaths.needsAction('email', id));
      await writeFile(abs, 'x');
      expect(relative(vault, abs).startsWith('..')).toBe(false);
    }
    // Every file landed in the one folder, none anywhere else.
    expect((await readdir(vault)).sort()).toEqual(['Needs_Action']);
  });

  it('refuses unsanitised ids and escaping relative paths', () => {
    expect(() => itemPaths.needsAction('email', '../../x')).toThrow(InvalidTaskIdError);
    expect(() => itemPaths.inProgress('../cloud', 'X')).toThrow();
    expect(() => insideVault('/vault', '../etc/passwd')).toThrow(PathEscapeError);
    expect(() => insideVault('/vault', '/etc/passwd')).toThrow(PathEscapeError);
  });
});
