import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startFte } from '../helpers/cli.js';
import { git, remoteWithClones } from '../helpers/vaults.js';

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('fte sync daemon', () => {
  it('pushes a local change right away, not at the next interval, and stops cleanly on SIGTERM', async () => {
    const { remote, clones } = await remoteWithClones(['local']);
    const dir = clones.local!.dir;
    const { child: daemon } = startFte(['sync', '--vault', dir, '--interval', '3600']);
    let output = '';
    daemon.stdout?.on('data', (d) => (output += d));
    daemon.stderr?.on('data', (d) => (output += d));
    try {
      await until(async () => output.includes('synced'), 'the first cycle');
      await writeFile(join(dir, 'Plans/files/idea.md'), '# an idea\n');
      // The interval is an hour: only the file watcher can bring this commit to the remote in time.
      await until(
        async () =>
          (await git(remote, 'ls-tree', '-r', '--name-only', 'main')).includes('Plans/files/idea.md'),
        'the change to reach the remote',
      );
    } finally {
      daemon.kill('SIGTERM');
    }
    const [code] = await once(daemon, 'exit');
    expect(code).toBe(0);
    expect(output).toContain('pushed 1');
  });
});
