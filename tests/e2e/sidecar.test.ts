import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { git, runCli, smtpEnv, smtpServer, tempDir, testKey, world } from '../executor/helpers.js';
import { cloudEnv, startFte } from '../helpers/cli.js';
import { itemText } from '../helpers/vaults.js';

const TOKEN = 'sidecar-token-0123456789abcdef';

/** An environment for the cloud side: no send credentials, the shared port token, and git NOT on the PATH. */
async function operatorEnvWithoutGit(): Promise<NodeJS.ProcessEnv> {
  const bin = await tempDir('fte-nogit-');
  await symlink(process.execPath, join(bin, 'node'));
  return { ...cloudEnv(), PATH: bin, FTE_VAULT_TOKEN: TOKEN, FTE_LOG_LEVEL: 'warn' };
}

describe('the operator and a git-sync sidecar in two processes on one clone', () => {
  it('runs the email flow of make demo through the loopback vault port; only the sidecar runs git', async () => {
    const w = await world();
    const smtp = await smtpServer();
    await testKey(w.keyFile);
    const id = 'EMAIL_SIDECAR1';
    await mkdir(join(w.cloud.dir, 'Needs_Action', 'email'), { recursive: true });
    await writeFile(
      join(w.cloud.dir, 'Needs_Action', 'email', `${id}.md`),
      itemText(
        {
          type: 'email',
          from: 'Jane Client <client@example.com>',
          subject: 'Invoice for January',
          received: '2026-01-07T10:30:00Z',
          message_id: '<jan@mail.example.com>',
        },
        '## Email Content\nCould you send the January invoice?\n',
      ),
    );

    const sidecar = startFte(
      ['sync', '--vault', w.cloud.dir, '--agent', 'cloud', '--interval', '1', '--serve', '127.0.0.1:0'],
      { ...process.env, FTE_VAULT_TOKEN: TOKEN },
    );
    let url = '';
    for (let waited = 0; !url && waited < 20_000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      url = /vault port listening on (http:\/\/\S+)/.exec(sidecar.output().stderr)?.[1] ?? '';
    }
    expect(url, sidecar.output().stderr).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    try {
      // Twice, as a restarted pod would: one draft, not two.
      for (let run = 0; run < 2; run++) {
        const op = await runCli(
          ['operator', '--once', '--vault', w.cloud.dir, '--agent', 'cloud', '--vault-port', url],
          await operatorEnvWithoutGit(),
        );
        expect(op.code, op.stderr).toBe(0);
      }
      const drafts = (await git(w.cloud.dir, 'log', '--format=%s', `--grep=draft ${id}`)).trim().split('\n');
      expect(drafts).toEqual([`cloud: draft ${id}`]);
      expect(await git(w.cloud.dir, 'log', '--format=%s')).toMatch(new RegExp(`cloud: claim ${id}`));

      const env = smtpEnv(smtp.port, w.keyFile);
      for (const args of [
        ['executor', '--once', '--vault', w.local.dir],
        ['approve', id, '--vault', w.local.dir],
        ['executor', '--once', '--vault', w.local.dir],
      ]) {
        const r = await runCli(args, env);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      }
      await smtp.waitFor(1);
      expect(smtp.received).toHaveLength(1);
      expect(smtp.received[0]!.parsed.subject).toBe('Re: Invoice for January');
      expect(smtp.received[0]!.parsed.inReplyTo).toBe('<jan@mail.example.com>');
      await git(w.cloud.dir, 'fsck', '--strict');
      expect(await git(w.remote, 'ls-tree', '-r', '--name-only', 'main')).toContain(`Done/${id}.md`);
      // The sidecar pulls the owner's outcome into the cloud clone within a few of its 1 s cycles.
      for (let waited = 0; waited < 20_000; waited += 200) {
        if ((await readFile(join(w.cloud.dir, 'Done', `${id}.md`), 'utf8').catch(() => '')) !== '') break;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      sidecar.child.kill('SIGTERM');
      const end = await sidecar.done;
      expect(end.code, end.stderr).toBe(0);
    }
    expect(await readFile(join(w.cloud.dir, 'Done', `${id}.md`), 'utf8')).toContain('status: executed');
  }, 180_000);
});
