import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../operator/process.js';
import { cloudDrafts, executive, frontmatterOf, runCli, smtpEnv, testKey, world } from './helpers.js';

/**
 * `fte show` prints what approving would sign before anything is signed, as text that cannot rewrite the
 * terminal; `fte approve --seen` signs only the version that was shown.
 */

async function pulled(id: string, o: Parameters<typeof cloudDrafts>[2] = {}) {
  const w = await world();
  const key = await testKey(w.keyFile);
  await cloudDrafts(w.cloud, id, o);
  await executive(w, key, undefined).pass();
  const fte = (args: string[]) => runCli([...args, '--vault', w.local.dir], smtpEnv(1, w.keyFile));
  return { w, key, fte };
}

const digestIn = (stdout: string) => /--seen ([0-9a-f]{64})/.exec(stdout)?.[1];

describe('fte show and fte approve --seen', () => {
  beforeAll(assertBuilt);

  it('shows every recipient, the subject and the draft, signs nothing; approve --seen with its digest signs', async () => {
    const { w, fte } = await pulled('EMAIL_SHOW', {
      to: 'client@example.com',
      extra: { cc: 'partner@example.com' },
    });
    const shown = await fte(['show', 'EMAIL_SHOW']);
    expect(shown.code, shown.stderr).toBe(0);
    for (const line of [
      'EMAIL_SHOW: send_email (email), expires',
      'client@example.com',
      'partner@example.com',
      'Re: Invoice for January',
      '    | Dear client,',
      '    | The January invoice is attached.',
    ]) {
      expect(shown.stdout).toContain(line);
    }
    const pending = join(w.local.dir, 'Pending_Approval/email/EMAIL_SHOW.md');
    expect((await frontmatterOf(pending)).signature).toBeUndefined();

    const digest = digestIn(shown.stdout);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    const approve = await fte(['approve', 'EMAIL_SHOW', '--seen', digest!]);
    expect(approve.code, approve.stderr).toBe(0);
    expect(await frontmatterOf(join(w.local.dir, 'Approved/EMAIL_SHOW.md'))).toMatchObject({
      status: 'approved',
    });
  });

  it('a request changed by a sync after it was shown is refused with --seen, and nothing is signed', async () => {
    const { w, key, fte } = await pulled('EMAIL_SWAP', { to: 'client@example.com' });
    const digest = digestIn((await fte(['show', 'EMAIL_SWAP'])).stdout);
    // The cloud rewrites the request (another recipient) and the laptop pulls it before the owner approves.
    await cloudDrafts(w.cloud, 'EMAIL_SWAP', { to: 'thief@evil.example' });
    await executive(w, key, undefined).pass();

    const approve = await fte(['approve', 'EMAIL_SWAP', '--seen', digest!]);
    expect(approve.code).not.toBe(0);
    expect(approve.stderr).toContain('EMAIL_SWAP changed since it was shown');
    expect(existsSync(join(w.local.dir, 'Approved/EMAIL_SWAP.md'))).toBe(false);
    expect(await readFile(join(w.local.dir, 'Pending_Approval/email/EMAIL_SWAP.md'), 'utf8')).toContain(
      'thief@evil.example',
    );
    expect((await fte(['show', 'EMAIL_SWAP'])).stdout).toContain('thief@evil.example');
  });

  it('escape sequences, carriage returns and bidi overrides in the draft are shown as marks, never sent to the terminal', async () => {
    const body =
      'Hello\u001b[2J\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007\rOK \u202Emoc.elpmaxe\n';
    const { fte } = await pulled('EMAIL_ESC', { body });
    const shown = await fte(['show', 'EMAIL_ESC']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).not.toMatch(/[\u001b\u0007\r\u202e]/);
    expect(shown.stdout).toContain('Hello⟪U+001B⟫[2J⟪U+001B⟫]8;;https://evil.example⟪U+0007⟫click');
    expect(shown.stdout).toContain('⟪U+000D⟫OK ⟪U+202E⟫moc.elpmaxe');
  });

  it('--seen that is not a digest is a usage error; show of an unknown id says so', async () => {
    const { fte } = await pulled('EMAIL_USE');
    const bad = await fte(['approve', 'EMAIL_USE', '--seen', 'abc']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--seen takes the 64-character digest');
    const missing = await fte(['show', 'EMAIL_NONE']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no approval request EMAIL_NONE in Pending_Approval/');
  });
});
