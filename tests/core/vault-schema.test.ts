import { describe, expect, it } from 'vitest';
import { VaultChange } from '../../core/vault/change.js';
import { InvalidChangeError, parseChange } from '../../core/vault/local-port.js';

/**
 * core/vault/change.ts, the VaultChange schema every change (in-process or over HTTP) is parsed with: what
 * a change may say, at the boundaries of each pattern and list, and how an invalid one is reported.
 */

const HEX = '0123456789abcdef'.repeat(4);

function accepts(change: unknown): boolean {
  return VaultChange.safeParse(change).success;
}
const msg = (message: string) => ({ message, operations: [] });

describe('VaultChange: the schema', () => {
  it('commit messages read "<agent>: <verb> <id>" within their character sets and lengths', () => {
    for (const good of [
      'a: a',
      'z: z',
      'cloud: draft X',
      'a09z_-: a09z_- X',
      'z90a-_: z90a-_',
      `${'a'.repeat(40)}: claim E7`,
      `local: expire ${'x'.repeat(200)}`,
      'local: done Needs_Action/email/X.md',
    ]) {
      expect(accepts(msg(good)), good).toBe(true);
    }
    for (const bad of [
      'Cloud: draft X',
      '0cloud: draft X',
      '_a: draft X',
      `${'a'.repeat(41)}: claim E7`,
      'cloud: Draft X',
      'cloud: 9raft X',
      'cloud:draft X',
      'cloud draft X',
      ': draft X',
      'cloud: ',
      'cloud: draft X Y',
      'cloud: draft  X',
      'cloud: draft X\n',
      'cloud: draft \tX',
      `local: expire ${'x'.repeat(201)}`,
      'cloud.x: draft X',
      'cloud: dra.ft X',
      'x cloud: draft X',
    ]) {
      expect(accepts(msg(bad)), JSON.stringify(bad)).toBe(false);
    }
    expect(accepts(msg('cloud: draft'))).toBe(true);
  });

  it('a sha256 precondition is 64 lowercase hex digits', () => {
    const pre = (sha256: string) => ({
      ...msg('a: b'),
      preconditions: [{ kind: 'sha256', path: 'a.md', sha256 }],
    });
    expect(accepts(pre(HEX))).toBe(true);
    for (const bad of [
      HEX.slice(1),
      `${HEX}0`,
      HEX.toUpperCase(),
      `g${HEX.slice(1)}`,
      `${HEX.slice(1)}-`,
      ` ${HEX}`,
    ]) {
      expect(accepts(pre(bad)), bad).toBe(false);
    }
  });

  it('parses defaults: no preconditions or audit, utf8 content, create mode', () => {
    expect(
      parseChange({
        message: 'cloud: draft X',
        operations: [
          { op: 'write', path: 'a.md', content: 'x' },
          { op: 'write', path: 'b.md', content: 'eA==', encoding: 'base64', mode: 'replace' },
          { op: 'write', path: 'c.md', content: '', mode: 'ensure' },
          { op: 'move', from: 'a.md', to: 'd.md' },
          { op: 'delete', path: 'b.md' },
        ],
      }),
    ).toEqual({
      message: 'cloud: draft X',
      preconditions: [],
      audit: [],
      operations: [
        { op: 'write', path: 'a.md', content: 'x', encoding: 'utf8', mode: 'create' },
        { op: 'write', path: 'b.md', content: 'eA==', encoding: 'base64', mode: 'replace' },
        { op: 'write', path: 'c.md', content: '', encoding: 'utf8', mode: 'ensure' },
        { op: 'move', from: 'a.md', to: 'd.md' },
        { op: 'delete', path: 'b.md' },
      ],
    });
    expect(
      parseChange({
        message: 'a: b',
        operations: [],
        preconditions: [
          { kind: 'sha256', path: 'x', sha256: HEX },
          { kind: 'absent', path: 'y' },
          { kind: 'present', path: 'z' },
        ],
        audit: [{ action_type: 't', actor: 'a', target: '', result: 'ok', extra: 1 }],
      }),
    ).toMatchObject({
      preconditions: [{ kind: 'sha256' }, { kind: 'absent' }, { kind: 'present' }],
      audit: [{ action_type: 't', actor: 'a', target: '', result: 'ok', extra: 1 }],
    });
  });

  it('accepts each encoding and mode named explicitly, and names the discriminator of an unknown kind', () => {
    for (const encoding of ['utf8', 'base64']) {
      for (const mode of ['create', 'replace', 'ensure']) {
        const change = {
          message: 'a: b',
          operations: [{ op: 'write', path: 'a.md', content: '', encoding, mode }],
        };
        expect(parseChange(change).operations[0]).toMatchObject({ encoding, mode });
      }
    }
    expect(() => parseChange({ ...msg('a: b'), preconditions: [{ kind: 'newer', path: 'a' }] })).toThrow(
      /^invalid vault change: preconditions\.0\.kind: /,
    );
    expect(() => parseChange({ message: 'a: b', operations: [{ op: 'chmod', path: 'a' }] })).toThrow(
      /^invalid vault change: operations\.0\.op: /,
    );
  });

  it('refuses unknown kinds, encodings and modes, empty audit fields, and more than 1000 entries', () => {
    const write = (extra: object) => ({
      message: 'a: b',
      operations: [{ op: 'write', path: 'a.md', content: '', ...extra }],
    });
    expect(accepts(write({ encoding: 'hex' }))).toBe(false);
    expect(accepts(write({ mode: 'append' }))).toBe(false);
    expect(accepts({ ...msg('a: b'), preconditions: [{ kind: 'newer', path: 'a' }] })).toBe(false);
    const audit = (entry: object) => ({
      ...msg('a: b'),
      audit: [{ action_type: 't', actor: 'a', target: '', result: 'ok', ...entry }],
    });
    expect(accepts(audit({}))).toBe(true);
    expect(accepts(audit({ action_type: '' }))).toBe(false);
    expect(accepts(audit({ actor: '' }))).toBe(false);
    expect(accepts(audit({ result: undefined }))).toBe(false);
    expect(
      accepts(
        audit({
          approved_by: null,
          task: 'X',
          idempotency_key: 'k',
          approval_status: 'approved',
          parameters: { a: 1 },
        }),
      ),
    ).toBe(true);
    const ops = (n: number) => ({
      message: 'a: b',
      operations: Array.from({ length: n }, () => ({ op: 'delete', path: 'a' })),
    });
    expect(accepts(ops(1000))).toBe(true);
    expect(accepts(ops(1001))).toBe(false);
  });

  it('an invalid change names each problem by its path, and the root when it is not an object', () => {
    const error = (() => {
      try {
        parseChange({ message: 'Bad', operations: [{ op: 'write', path: '../x', content: '' }] });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidChangeError);
    expect((error as InvalidChangeError).exitCode).toBe(65);
    expect((error as Error).message).toBe(
      'invalid vault change: message: must read "<agent>: <verb> <id>"; operations.0.path: must be a plain vault-relative path (no absolute path, "..", ".git" or empty component)',
    );
    expect(() => parseChange(null)).toThrow(/^invalid vault change: \(root\): /);
  });
});
