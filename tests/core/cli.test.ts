import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { itemText, remoteWithClones, tempDir } from '../helpers/vaults.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

export function fte(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('fte CLI', () => {
  it('documents the claim exit codes in --help', async () => {
    const help = await fte(['claim', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(
      /Exit code 0 when this agent won the claim, 3 when another agent owns the item/,
    );
  });

  it('reports a usage error with exit 2 and an error as one line without a stack trace', async () => {
    const usage = await fte(['status']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("required option '--vault <dir>' not specified");
    const missing = await fte(['sync', '--once', '--vault', join(await tempDir(), 'nope')]);
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
    const synced = await fte(['sync', '--once', '--vault', cloud, '--agent', 'cloud']);
    expect(synced).toMatchObject({ code: 0 });
    expect(synced.stdout).toContain('synced; pushed 1');
    expect((await fte(['sync', '--once', '--vault', clones.local!.dir])).stdout).toContain('pulled 1');
    const status = await fte(['status', '--vault', clones.local!.dir, '--json']);
    expect(JSON.parse(status.stdout)).toEqual([
      expect.objectContaining({ id: 'E1', domain: 'email', phase: 'NeedsAction', title: 'Quote please' }),
    ]);
    const table = await fte(['status', '--vault', clones.local!.dir]);
    expect(table.stdout).toMatch(
      /^ID\s+DOMAIN\s+PHASE\s+OWNER\s+PATH\nE1\s+email\s+NeedsAction\s+-\s+Needs_Action\/email\/E1.md\n$/,
    );
  });
});
