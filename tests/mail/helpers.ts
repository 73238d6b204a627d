import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import type { ImapConfig } from '../../core/imap-config.js';
import { initVault } from '../../core/init.js';
import { LocalVaultPort } from '../../core/vault/local-port.js';
import { VaultRepo } from '../../core/vault-repo.js';
import { EmailIntake, type IntakeOutcome } from '../../operator/email/intake.js';
import { ImapWatcher } from '../../operator/watchers/imap.js';
import type { ImapAccount } from '../harness/mail.js';
import { git, tempDir } from '../helpers/vaults.js';

export function imapConfigFor(account: ImapAccount, overrides: Partial<ImapConfig> = {}): ImapConfig {
  return {
    host: account.host,
    port: account.port,
    secure: false,
    user: account.user,
    password: account.password,
    mailbox: 'INBOX',
    sinceDays: 7,
    pollMs: 500,
    idle: true,
    maxMessageBytes: 50 * 1024 * 1024,
    ...overrides,
  };
}

export type WatchedVault = {
  dir: string;
  repo: VaultRepo;
  outcomes: IntakeOutcome[];
  /** A new watcher over the same vault and state dir (as after a process restart). */
  watcher(config?: Partial<ImapConfig>): ImapWatcher;
};

export async function watchedVault(
  account: ImapAccount,
  base: Partial<ImapConfig> = {},
): Promise<WatchedVault> {
  const dir = join(await tempDir('fte-mail-'), 'cloud');
  await initVault(dir, { agent: 'cloud' });
  const repo = new VaultRepo({ root: dir, agent: 'cloud' });
  const outcomes: IntakeOutcome[] = [];
  const log = pino({ level: process.env.FTE_TEST_LOG ?? 'silent' });
  return {
    dir,
    repo,
    outcomes,
    watcher(config = {}) {
      return new ImapWatcher({
        config: imapConfigFor(account, { ...base, ...config }),
        intake: new EmailIntake({ vault: new LocalVaultPort(repo), log }),
        stateDir: ImapWatcher.defaultStateDir(dir),
        log,
        backoff: { initialMs: 100, maxMs: 800 },
        onOutcome: (outcome) => outcomes.push(outcome),
      });
    },
  };
}

/** Vault-relative paths of the markdown files in one folder. */
export async function filesIn(dir: string, folder: string): Promise<string[]> {
  try {
    return (await readdir(join(dir, folder)))
      .filter((n) => !n.startsWith('.'))
      .map((n) => `${folder}/${n}`)
      .sort();
  } catch {
    return [];
  }
}

export async function emailItems(dir: string): Promise<string[]> {
  return filesIn(dir, 'Needs_Action/email');
}

export async function read(dir: string, path: string): Promise<string> {
  return readFile(join(dir, path), 'utf8');
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Commit subjects of the vault, newest first. */
export async function commitSubjects(dir: string): Promise<string[]> {
  return (await git(dir, 'log', '--format=%s')).trim().split('\n');
}

/** Runs a watcher in the background; `stop()` aborts it and waits for it to end. */
export function runInBackground(watcher: ImapWatcher): { stop(): Promise<void>; done: Promise<void> } {
  const controller = new AbortController();
  const done = watcher.run(controller.signal);
  return {
    done,
    async stop() {
      controller.abort();
      await done;
    },
  };
}
