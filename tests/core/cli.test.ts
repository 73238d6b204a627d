import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportFor } from '../../cli/errors.js';
import { FteError } from '../../core/errors.js';
import { runFte } from '../helpers/cli.js';
import { itemText, remoteWithClones, tempDir } from '../helpers/vaults.js';

describe('fte CLI', () => {
  it('documents the claim exit codes in --help', async () => {
    const help = await runFte(['claim', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(
      /Exit code 0 when this agent won the claim, 3 when another agent owns the item/,
    );
  });

  it('reports a usage error with exit 2 and an error as one line without a stack trace', async () => {
    const usage = await runFte(['status']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("required option '--vault <dir>' not specified");
    const missing = await runFte(['sync', '--once', '--vault', join(await tempDir(), 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/does not exist; create a vault with `fte init/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });

  it('init, sync --once and status --json work together', async () => {
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!.dir;
    await writeFile(
      join(cloud, 'Needs_Action/email/E1.md'),
      itemText({ type: 'email', subject: 'Quote please' }),
    );
    const synced = await runFte(['sync', '--once', '--vault', cloud, '--agent', 'cloud']);
    expect(synced).toMatchObject({ code: 0 });
    expect(synced.stdout).toContain('synced; pushed 1');
    expect((await runFte(['sync', '--once', '--vault', clones.local!.dir])).stdout).toContain('pulled 1');
    const status = await runFte(['status', '--vault', clones.local!.dir, '--json']);
    expect(JSON.parse(status.stdout)).toEqual([
      expect.objectContaining({ id: 'E1', domain: 'email', phase: 'NeedsAction', title: 'Quote please' }),
    ]);
    const table = await runFte(['status', '--vault', clones.local!.dir]);
    expect(table.stdout).toMatch(
      /^ID\s+DOMAIN\s+PHASE\s+OWNER\s+PATH\nE1\s+email\s+NeedsAction\s+-\s+Needs_Action\/email\/E1.md\n$/,
    );
  });

  it('an unexpected error is one line, "internal error", exit 70; FTE_DEBUG=1 adds the stack', () => {
    // Every error fte expects is an FteError; anything else (a bug) is reported the same way by every command.
    const plain = reportFor(new TypeError("Cannot read properties of undefined (reading 'x')\n  more"), {});
    expect(plain).toEqual({
      line: "internal error: TypeError: Cannot read properties of undefined (reading 'x') more, run with FTE_DEBUG=1 for the stack",
      exitCode: 70,
      stack: undefined,
    });
    const debug = reportFor(new TypeError('boom'), { FTE_DEBUG: '1' });
    expect(debug.exitCode).toBe(70);
    expect(debug.stack).toMatch(/\n\s+at /);
    expect(reportFor(new FteError('expected, and said so', { exitCode: 65 }), {})).toMatchObject({
      line: 'expected, and said so',
      exitCode: 65,
    });
  });

  it('fte operator with a bad setting exits 78 with one line naming it', async () => {
    const { clones } = await remoteWithClones(['cloud']);
    const env = { ...process.env, FTE_DEBUG: '' };
    for (const name of Object.keys(env))
      if (name.startsWith('IMAP_') || name.startsWith('FTE_')) delete env[name];
    const workers = await runFte(['operator', '--vault', clones.cloud!.dir, '--once'], {
      ...env,
      FTE_OPERATOR_WORKERS: '0',
    });
    expect(workers.code).toBe(78);
    expect(workers.stderr).toBe('fte: FTE_OPERATOR_WORKERS: must be at least 1 (got "0")\n');
    const imap = await runFte(['operator', '--vault', clones.cloud!.dir, '--once'], {
      ...env,
      IMAP_HOST: 'imap.example.com',
    });
    expect(imap.code).toBe(78);
    expect(imap.stderr.trim().split('\n')).toHaveLength(1);
    expect(imap.stderr).toMatch(/^fte: invalid IMAP configuration: .*IMAP_USER/);
  });
});
