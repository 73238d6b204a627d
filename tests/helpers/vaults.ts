import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach } from 'vitest';
import { initVault } from '../../core/init.js';
import { VaultRepo } from '../../core/vault-repo.js';

const exec = promisify(execFile);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** A fresh temp dir, removed after the test. */
export async function tempDir(prefix = 'fte-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('git', args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/**
 * A bare remote whose ref updates are logged (so a test can prove no push ever rewrote history) and one
 * initialised vault clone per agent, all in a temp dir.
 */
export async function remoteWithClones(agents: string[]): Promise<{
  root: string;
  remote: string;
  clones: Record<string, { dir: string; repo: VaultRepo }>;
}> {
  const root = await tempDir();
  const remote = join(root, 'remote.git');
  await exec('git', ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  await git(remote, 'config', 'core.logAllRefUpdates', 'always');
  const clones: Record<string, { dir: string; repo: VaultRepo }> = {};
  for (const agent of agents) {
    const dir = join(root, agent);
    await initVault(dir, { remote, agent });
    clones[agent] = { dir, repo: new VaultRepo({ root: dir, agent }) };
  }
  return { root, remote, clones };
}

/** Every update of the remote's main branch, oldest first, as [old, new] commit pairs. */
export async function refUpdates(remote: string): Promise<Array<[string, string]>> {
  const log = await git(remote, 'reflog', 'show', '--format=%H', 'refs/heads/main');
  const news = log.trim().split('\n').filter(Boolean).reverse();
  return news.slice(1).map((n, i) => [news[i]!, n]);
}

export async function isAncestor(dir: string, older: string, newer: string): Promise<boolean> {
  try {
    await exec('git', ['merge-base', '--is-ancestor', older, newer], { cwd: dir });
    return true;
  } catch {
    return false;
  }
}

export function itemText(fields: Record<string, string>, body = 'Hello.\n'): string {
  const yaml = Object.entries(fields)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join('\n');
  return `---\n${yaml}\n---\n\n${body}`;
}

/** An email item for Needs_Action/email/ as the IMAP intake writes it (a client asks `subject`). */
export function emailItem(subject: string, id: string): string {
  return itemText(
    {
      type: 'email',
      from: 'Jane Client <client@example.com>',
      subject,
      received: '2026-01-07T10:30:00Z',
      message_id: `<${id.toLowerCase()}@mail.example.com>`,
      priority: 'high',
      status: 'pending',
    },
    `## Email Content\nHello, about "${subject}": could you get back to me?\n`,
  );
}
