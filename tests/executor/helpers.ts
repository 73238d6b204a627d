import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';
import { afterEach } from 'vitest';
import { AuditLog } from '../../core/audit.js';
import { approvalContentHash, approvalParameters } from '../../core/codec.js';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { initVault } from '../../core/init.js';
import { createLogger } from '../../core/log.js';
import type { AuditRecord } from '../../core/schemas.js';
import { VaultRepo } from '../../core/vault-repo.js';
import type { ExecutorConfig } from '../../executor/config.js';
import { SmtpTransport } from '../../executor/email.js';
import { Executive, type ExecutiveOptions } from '../../executor/executive.js';
import { Ledger } from '../../executor/ledger.js';
import { openStateDir, type StatePaths } from '../../executor/state.js';
import { runFte } from '../helpers/cli.js';

const exec = promisify(execFile);

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});
export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

export async function tempDir(prefix = 'fte-exec-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('git', args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export type Clone = { dir: string; repo: VaultRepo };
export type World = {
  root: string;
  remote: string;
  cloud: Clone;
  local: Clone;
  keyFile: string;
  /** FTE_STATE_DIR of the local executive (outside both clones). */
  stateBase: string;
};

/** A bare remote, a cloud clone and a local clone (real git), and an approval key file outside the vaults. */
export async function world(): Promise<World> {
  const root = await tempDir();
  const remote = join(root, 'remote.git');
  await exec('git', ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  const clones: Record<string, Clone> = {};
  for (const agent of ['cloud', 'local']) {
    const dir = join(root, agent);
    await initVault(dir, { remote, agent });
    clones[agent] = { dir, repo: new VaultRepo({ root: dir, agent }) };
  }
  return {
    root,
    remote,
    cloud: clones.cloud!,
    local: clones.local!,
    keyFile: join(root, 'keys', 'approval.key'),
    stateBase: join(root, 'state'),
  };
}

/** The local executive's state folder (ledger, lock, dashboard state), as `fte executor` finds it. */
export async function localState(w: World): Promise<StatePaths> {
  return openStateDir(w.local.dir, { FTE_STATE_DIR: w.stateBase });
}

/** The local executive's ledger. */
export async function localLedger(w: World): Promise<Ledger> {
  return new Ledger((await localState(w)).ledger);
}

export type DraftOptions = {
  to?: string;
  subject?: string;
  messageId?: string;
  references?: string;
  body?: string;
  created?: Date;
  expires?: Date;
  /** Push right away (default); false leaves the commit for a later sync. */
  push?: boolean;
  /** `in_reply_to` exactly as given (default: the item's Message-ID). */
  inReplyTo?: string;
  /** More approval parameters (cc, bcc, anything a hostile cloud adds). */
  extra?: Record<string, unknown>;
};

/**
 * What the cloud operator does for an incoming email (issue #3's contract): the item in
 * `In_Progress/cloud/<id>.md`, the approval request in `Pending_Approval/email/<id>.md` with its content
 * hash, committed by the cloud and pushed.
 */
export async function cloudDrafts(cloud: Clone, id: string, o: DraftOptions = {}): Promise<void> {
  const created = o.created ?? new Date();
  const expires = o.expires ?? new Date(created.getTime() + 48 * 3_600_000);
  const to = o.to ?? 'client@example.com';
  const subject = o.subject ?? 'Invoice for January';
  const messageId = o.messageId ?? `<${id.toLowerCase()}@mail.example.com>`;
  const item = stringifyMarkdown({
    data: {
      type: 'email',
      from: to,
      subject,
      received: created.toISOString(),
      message_id: messageId,
      ...(o.references ? { references: o.references } : {}),
      priority: 'high',
      status: 'in_progress',
    },
    body: `## Email Content\nHello, could you send the January invoice?\n`,
  });
  const data: Record<string, unknown> = {
    type: 'approval_request',
    task: id,
    action: 'send_email',
    domain: 'email',
    to,
    subject: `Re: ${subject}`,
    in_reply_to: o.inReplyTo ?? messageId,
    references: o.references ? `${o.references} ${messageId}` : messageId,
    ...o.extra,
    reason: 'reply to a known client',
    created: created.toISOString(),
    expires: expires.toISOString(),
    status: 'pending',
    source: `In_Progress/cloud/${id}.md`,
    drafter: 'template',
  };
  const body = o.body ?? 'Dear client,\n\nThe January invoice is attached.\n\nBest regards,\nthe team\n';
  data.content_sha256 = approvalContentHash('send_email', approvalParameters(data), body);
  await mkdir(join(cloud.dir, 'In_Progress', 'cloud'), { recursive: true });
  await mkdir(join(cloud.dir, 'Pending_Approval', 'email'), { recursive: true });
  await writeFile(join(cloud.dir, 'In_Progress', 'cloud', `${id}.md`), item);
  await writeFile(
    join(cloud.dir, 'Pending_Approval', 'email', `${id}.md`),
    stringifyMarkdown({ data, body }),
  );
  await cloud.repo.commit(`cloud: draft ${id}`, [
    `In_Progress/cloud/${id}.md`,
    `Pending_Approval/email/${id}.md`,
  ]);
  if (o.push === false) return;
  const report = await cloud.repo.sync();
  if (report.state !== 'synced') throw new Error(`cloud sync failed: ${report.error}`);
}

export type Received = { raw: string; parsed: ParsedMail; envelopeTo: string[] };

export type SmtpOptions = {
  /** Answer the end of DATA with this SMTP error (e.g. 550). */
  rejectWith?: number;
  /** Destroy the connection after the message data arrived, before answering (an outcome nobody knows). */
  dropAfterData?: boolean;
  /** Wait this long before answering the end of DATA (a slow server, to signal a process mid-send). */
  delayMs?: number;
  /** Require a login (AUTH PLAIN/LOGIN over the plain connection) with exactly these credentials. */
  auth?: { user: string; pass: string };
};

/** A real SMTP server (smtp-server) on 127.0.0.1, random port, recording every message it accepts. */
export async function smtpServer(options: SmtpOptions = {}): Promise<{
  port: number;
  received: Received[];
  connections: () => number;
  /** Messages whose data arrived (answered or not). */
  dataArrived: () => number;
  /** Every message whose data arrived, raw, in order: also those dropped unanswered or refused. */
  arrived: string[];
  waitFor: (count: number, timeoutMs?: number) => Promise<void>;
  close: () => Promise<void>;
}> {
  const received: Received[] = [];
  const arrived: string[] = [];
  let connections = 0;
  let dataArrived = 0;
  const auth = options.auth;
  const server = new SMTPServer({
    authOptional: !auth,
    disabledCommands: auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: Boolean(auth),
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(login, _session, callback) {
      if (auth && login.username === auth.user && login.password === auth.pass)
        return callback(null, { user: login.username });
      callback(new Error('Invalid username or password'));
    },
    logger: false,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        dataArrived++;
        arrived.push(Buffer.concat(chunks).toString('utf8'));
        if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
        if (options.dropAfterData) {
          // Drop the connection after the message arrived, without answering.
          (session as unknown as { _socket?: { destroy(): void } })._socket?.destroy();
          for (const s of (server as unknown as { connections: Set<{ _socket: { destroy(): void } }> })
            .connections) {
            s._socket.destroy();
          }
          return;
        }
        if (options.rejectWith) {
          const error = new Error('message refused by policy') as Error & { responseCode: number };
          error.responseCode = options.rejectWith;
          callback(error);
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        received.push({
          raw,
          parsed: await simpleParser(raw),
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  onCleanup(close);
  return {
    port,
    received,
    connections: () => connections,
    dataArrived: () => dataArrived,
    arrived,
    async waitFor(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} messages, got ${received.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close,
  };
}

export function smtpEnv(
  port: number,
  keyFile: string,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env))
    if (k.startsWith('SMTP_') || k === 'DRY_RUN' || k.startsWith('FTE_')) delete env[k];
  // The world's layout: <root>/keys/approval.key, <root>/state, <root>/config (all outside the clones).
  const root = join(keyFile, '..', '..');
  return {
    ...env,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(port),
    SMTP_SECURE: 'false',
    SMTP_FROM: 'Owner <owner@example.com>',
    FTE_APPROVAL_KEY_FILE: keyFile,
    FTE_STATE_DIR: join(root, 'state'),
    FTE_EXECUTOR_CONFIG: join(root, 'config', 'executor.json'),
    ...extra,
  };
}

export type CliResult = {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
};

export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return runFte(args, env, timeoutMs);
}

/** A test key (0600) in the world's key dir, and its bytes. */
export async function testKey(keyFile: string): Promise<Buffer> {
  await mkdir(join(keyFile, '..'), { recursive: true, mode: 0o700 });
  const hex = 'ab'.repeat(32);
  await writeFile(keyFile, `${hex}\n`, { mode: 0o600 });
  await chmod(keyFile, 0o600);
  return Buffer.from(hex, 'hex');
}

export const silentLog = createLogger({ agent: 'test', level: 'silent' });

export function config(port: number | undefined, extra: Partial<ExecutorConfig> = {}): ExecutorConfig {
  return {
    smtp: port ? { host: '127.0.0.1', port, secure: false, from: 'Owner <owner@example.com>' } : undefined,
    from: 'Owner <owner@example.com>',
    dryRun: false,
    emailsPerHour: 10,
    owner: 'owner',
    ...extra,
  };
}

/** An in-process executive on the local clone (same code as `fte executor`), with a real SMTP transport. */
export function executive(
  w: World,
  key: Buffer,
  port: number | undefined,
  extra: Partial<ExecutiveOptions> = {},
): Executive {
  const cfg = extra.config ?? config(port);
  const transport = cfg.smtp ? new SmtpTransport(cfg.smtp) : undefined;
  if (transport) onCleanup(async () => transport.close());
  return new Executive({
    root: w.local.dir,
    agent: 'local',
    key,
    config: cfg,
    log: silentLog,
    transport,
    stateEnv: { FTE_STATE_DIR: w.stateBase },
    ...extra,
  });
}

/** What the owner's `fte approve`, `fte reject` and `fte resolve` act with on the laptop's clone. */
export function ownerContext(w: World) {
  return {
    root: w.local.dir,
    agent: 'local',
    owner: 'owner',
    audit: new AuditLog(w.local.dir),
    clock: () => new Date(),
  };
}

export async function auditRecords(dir: string): Promise<AuditRecord[]> {
  return new AuditLog(dir).read(new Date());
}

export async function frontmatterOf(path: string): Promise<Record<string, unknown>> {
  const { parseMarkdown } = await import('../../core/frontmatter.js');
  return parseMarkdown(await readFile(path, 'utf8')).data;
}

export async function subjects(dir: string): Promise<string[]> {
  return (await git(dir, 'log', '--format=%s')).trim().split('\n');
}
