import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImapFlow } from 'imapflow';
import pino from 'pino';
import type { ImapConfig } from '../core/imap-config.js';
import { initVault } from '../core/init.js';
import { LocalVaultPort } from '../core/vault/local-port.js';
import { VaultRepo } from '../core/vault-repo.js';
import { MemoryTaskStore } from '../operator/controller/memory-store.js';
import { TemplateDrafter } from '../operator/drafters/template.js';
import { EmailIntake } from '../operator/email/intake.js';
import { taskIdForMessageId } from '../operator/email/item.js';
import { parseEmail } from '../operator/email/parse.js';
import { Operator } from '../operator/operator.js';
import { ImapInboxWatcher, ImapWatcher } from '../operator/watchers/imap.js';
import {
  type DovecotServer,
  type ImapAccount,
  imapAppend,
  imapAppendMany,
  rawMessage,
  startDovecot,
} from '../tests/harness/mail.js';
import { ms, percentile, printTable, progress, type Row, timed } from './report.js';

/**
 * Email intake against a real Dovecot on loopback (`node dist/bench/mail.js`):
 * - throughput: a mailbox of N messages (BENCH_MAIL_MESSAGES, default 5 000) taken into a fresh vault, one commit each;
 * - latency: a message appended to INBOX → its item (and, with the operator, its approval request) on disk, with the
 *   watcher idling (IMAP IDLE).
 */

const COUNT = Number(process.env.BENCH_MAIL_MESSAGES ?? 5000);
const LATENCY_SAMPLES = Number(process.env.BENCH_MAIL_SAMPLES ?? 20);

function config(account: ImapAccount): ImapConfig {
  return {
    host: account.host,
    port: account.port,
    secure: false,
    user: account.user,
    password: account.password,
    mailbox: 'INBOX',
    sinceDays: 7,
    pollMs: 60_000,
    idle: true,
    maxMessageBytes: 50 * 1024 * 1024,
  };
}

function* corpus(count: number, tag: string): Generator<string> {
  for (let i = 0; i < count; i++) {
    yield rawMessage({
      messageId: `<${tag}-${i}@customer.test>`,
      subject: `Order ${i}`,
      body: `Hello,\n\nplease send ${i % 7} chairs and ${i % 3} tables to the usual address.\n\nThanks,\nClient\n`,
    });
  }
}

async function vault(root: string, name: string): Promise<VaultRepo> {
  const dir = join(root, name);
  await initVault(dir, { agent: 'cloud' });
  return new VaultRepo({ root: dir, agent: 'cloud' });
}

async function throughput(root: string, dovecot: DovecotServer): Promise<Row[]> {
  const account = dovecot.account('bulk');
  progress(`appending ${COUNT} messages to INBOX`);
  const [, appendMs] = await timed(() => imapAppendMany(account, corpus(COUNT, 'bulk')));

  progress('download + parse only (no vault)');
  const client = new ImapFlow({
    host: account.host,
    port: account.port,
    secure: false,
    auth: { user: account.user, pass: account.password },
    logger: false,
  });
  await client.connect();
  const lock = await client.getMailboxLock('INBOX', { readOnly: true });
  const [parsed, parseMs] = await timed(async () => {
    let n = 0;
    for await (const message of client.fetch('1:*', { uid: true, source: true })) {
      if (message.source) {
        await parseEmail(message.source);
        n++;
      }
    }
    return n;
  });
  lock.release();
  await client.logout();

  progress(`intake of ${COUNT} messages into a fresh vault (one commit each)`);
  const repo = await vault(root, 'bulk');
  const watcher = new ImapWatcher({
    config: config(account),
    intake: new EmailIntake({ vault: new LocalVaultPort(repo) }),
    stateDir: ImapWatcher.defaultStateDir(repo.root),
  });
  const [status, intakeMs] = await timed(() => watcher.runOnce());
  const [again, rescanMs] = await timed(() =>
    new ImapWatcher({
      config: config(account),
      intake: new EmailIntake({ vault: new LocalVaultPort(repo) }),
      stateDir: ImapWatcher.defaultStateDir(repo.root),
    }).runOnce(),
  );
  if (status.handled.created !== COUNT)
    throw new Error(`expected ${COUNT} items, got ${status.handled.created}`);
  const perSecond = (n: number, elapsed: number) => `${(n / (elapsed / 1000)).toFixed(0)} msg/s`;
  return [
    {
      what: `intake throughput: ${COUNT} messages → ${COUNT} items + commits`,
      result: `${perSecond(COUNT, intakeMs)} (${(intakeMs / 1000).toFixed(1)} s)`,
    },
    {
      what: 'same mailbox again (all known: search only)',
      result: `${ms(rescanMs)}, ${again.handled.created} new`,
    },
    {
      what: `ceiling: FETCH + parse only, no vault (${parsed} messages)`,
      result: perSecond(parsed, parseMs),
    },
    { what: `(setup) IMAP APPEND of ${COUNT} messages`, result: perSecond(COUNT, appendMs) },
  ];
}

async function waitForAny(paths: string[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!paths.some((path) => existsSync(path))) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${paths[0]}`);
    await sleep(2);
  }
}

/** The server's part of the latency: APPEND acknowledged → EXISTS pushed to an idling session. */
async function idleBaseline(account: ImapAccount, samples: number): Promise<number[]> {
  const client = new ImapFlow({
    host: account.host,
    port: account.port,
    secure: false,
    auth: { user: account.user, pass: account.password },
    logger: false,
    disableAutoIdle: true,
  });
  await client.connect();
  const lock = await client.getMailboxLock('INBOX', { readOnly: true });
  let wake: () => void = () => undefined;
  client.on('exists', () => wake());
  const out: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const woken = new Promise<void>((resolve) => {
        wake = resolve;
      });
      void client.idle();
      await sleep(100);
      await imapAppend(account, rawMessage({ subject: `baseline ${i}` }));
      const start = performance.now();
      await woken;
      out.push(performance.now() - start);
      await client.noop();
    }
  } finally {
    lock.release();
    await client.logout();
  }
  return out;
}

/**
 * Arrival → item, and arrival → approval request: the embedded operator (memory store, template drafter)
 * with its IMAP watcher idling, as `fte operator` runs it.
 */
async function latency(root: string, dovecot: DovecotServer): Promise<Row[]> {
  const account = dovecot.account('latency');
  const repo = await vault(root, 'latency');
  const inbox = new ImapInboxWatcher(config(account));
  const operator = new Operator({
    vault: repo.root,
    agent: 'cloud',
    drafter: new TemplateDrafter(),
    logger: pino({ level: 'silent' }),
    store: new MemoryTaskStore(),
    syncIntervalMs: 60_000,
    watchers: [inbox],
  });
  await operator.start();
  const itemMs: number[] = [];
  const approvalMs: number[] = [];
  try {
    while (!inbox.watcher?.status().idle) await sleep(5);
    progress(`latency: ${LATENCY_SAMPLES} arrivals through the operator`);
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const messageId = `<latency-${i}@customer.test>`;
      const id = taskIdForMessageId(messageId);
      const start = performance.now();
      await imapAppend(
        account,
        rawMessage({ messageId, subject: `Question ${i}`, body: 'Do you deliver on Saturdays?\n' }),
      );
      await waitForAny(
        [join(repo.root, 'Needs_Action/email', `${id}.md`), join(repo.root, 'In_Progress/cloud', `${id}.md`)],
        10_000,
      );
      itemMs.push(performance.now() - start);
      await waitForAny([join(repo.root, 'Pending_Approval/email', `${id}.md`)], 20_000);
      approvalMs.push(performance.now() - start);
      while (!inbox.watcher?.status().idle) await sleep(2);
    }
  } finally {
    await operator.stop();
  }
  const baseline = await idleBaseline(dovecot.account('baseline'), LATENCY_SAMPLES);
  return [
    {
      what: `(server part) APPEND done → Dovecot pushes EXISTS to IDLE, p50 of ${baseline.length}`,
      result: ms(percentile(baseline, 50)),
    },
    {
      what: `arrival (IMAP APPEND) → item written, p50 of ${itemMs.length}`,
      result: ms(percentile(itemMs, 50)),
    },
    { what: 'same, p95', result: ms(percentile(itemMs, 95)) },
    {
      what: `arrival → approval request written (template drafter), p50 of ${approvalMs.length}`,
      result: ms(percentile(approvalMs, 50)),
    },
    { what: 'same, p95', result: ms(percentile(approvalMs, 95)) },
  ];
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'fte-bench-mail-'));
  const dovecot = await startDovecot({
    users: [
      { name: 'bulk', password: 'bench' },
      { name: 'latency', password: 'bench' },
      { name: 'baseline', password: 'bench' },
    ],
  });
  try {
    const rows = [...(await latency(root, dovecot)), ...(await throughput(root, dovecot))];
    printTable('Email intake against Dovecot on loopback (IMAP IDLE, real git vault)', rows);
  } finally {
    await dovecot.destroy();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
