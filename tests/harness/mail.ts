/**
 * Real mail servers for integration tests, on free loopback ports.
 *
 * - `startDovecot()`: a private Dovecot (IMAP + LMTP) with users from a passwd-file and maildirs in a
 *   temp dir. Can be stopped and started again on the same ports with the same mail (`stop`/`start`).
 * - `startPostfix()`: a private Postfix (needs root) listening for SMTP on a free loopback port and
 *   delivering the given domains through LMTP to that Dovecot.
 * - `imapAppend()` / `imapRead()`: put a raw message into a mailbox and read messages back, with imapflow.
 *
 * Servers are stopped by PID and a stop waits until the port is closed. A missing binary throws with what
 * to run (`scripts/ensure-mail-servers.sh`): tests fail, they never skip.
 * Verified configs: ../../../shared/TEST-INFRA.md (Mail).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';

const exec = promisify(execFile);
const INSTALL_HINT = 'run `bash scripts/ensure-mail-servers.sh` (as root) to install dovecot and postfix';

export type MailUser = { name: string; password: string };

/** IMAP login data for one user of a test Dovecot. */
export type ImapAccount = { host: string; port: number; user: string; password: string };

/** Finds an executable in PATH or the sbin folders; throws a clear error when it is missing. */
export function requireBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} is not installed: ${INSTALL_HINT}`);
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('could not get a free port');
  return address.port;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function waitForPort(
  port: number,
  open: boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await portOpen(port)) !== open) {
    if (Date.now() > deadline) {
      throw new Error(`${what}: port ${port} still ${open ? 'closed' : 'open'} after ${timeoutMs} ms`);
    }
    await sleep(25);
  }
}

async function tail(path: string, lines = 30): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function makeTempRoot(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  // Dovecot's mail processes and Postfix's daemons run as their own users and must reach into the dir.
  await chmod(dir, 0o755);
  return dir;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

async function systemIds(user: string): Promise<{ uid: number; gid: number }> {
  const { stdout } = await exec('id', [user]);
  const uid = /uid=(\d+)/.exec(stdout)?.[1];
  const gid = /gid=(\d+)/.exec(stdout)?.[1];
  if (uid === undefined || gid === undefined)
    throw new Error(`system user ${user} not found: ${INSTALL_HINT}`);
  return { uid: Number(uid), gid: Number(gid) };
}

// --------------------------------------------------------------------------------------------------------
// Dovecot

export type DovecotServer = {
  readonly dir: string;
  readonly imapPort: number;
  readonly lmtpPort: number;
  /** Dovecot's SASL auth service on TCP (for Postfix: `smtpd_sasl_path = inet:127.0.0.1:<port>`), when asked for. */
  readonly saslPort?: number;
  readonly users: MailUser[];
  /** Whether the server is running now. */
  readonly running: boolean;
  account(user: string): ImapAccount;
  /** Stops the master by PID and waits until the IMAP and LMTP ports are closed. Mail is kept. */
  stop(): Promise<void>;
  /** Starts it again on the same ports with the same mail. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
  log(): Promise<string>;
};

export type StartDovecotOptions = {
  users: MailUser[];
  dir?: string;
  /**
   * Bearer tokens (XOAUTH2, OAUTHBEARER) checked by Dovecot's oauth2 passdb against an RFC 7662
   * introspection endpoint (POST `token=…`; `username` names the user). Passwords keep working.
   */
  oauth2?: { introspectionUrl: string };
  /** Open Dovecot's SASL auth service on a loopback TCP port (for Postfix submission). */
  sasl?: boolean;
};

export async function startDovecot(options: StartDovecotOptions): Promise<DovecotServer> {
  const binary = requireBinary('dovecot');
  const dir = options.dir ?? (await makeTempRoot('fte-dovecot-'));
  const imapPort = await freePort();
  const lmtpPort = await freePort();
  const saslPort = options.sasl ? await freePort() : undefined;
  const root = isRoot();
  const me = userInfo().username;
  const mailUser = root ? 'dovecot' : me;
  await mkdir(join(dir, 'mail'), { recursive: true });
  await mkdir(join(dir, 'state'), { recursive: true });
  if (root) {
    const { uid, gid } = await systemIds('dovecot');
    await chown(join(dir, 'mail'), uid, gid);
  }
  await writeFile(join(dir, 'users'), options.users.map((u) => `${u.name}:{PLAIN}${u.password}\n`).join(''), {
    mode: 0o644,
  });
  const nonRoot = root
    ? ''
    : [
        `default_internal_user = ${me}`,
        `default_internal_group = ${me}`,
        `default_login_user = ${me}`,
        'service anvil {\n  chroot =\n}',
      ].join('\n');
  const config = `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login${options.oauth2 ? ' xoauth2 oauthbearer' : ''}
auth_username_format = %Ln
mail_location = maildir:${dir}/mail/%u
first_valid_uid = 1
mail_max_userip_connections = 100
namespace inbox {
  inbox = yes
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/users
}
${
  options.oauth2
    ? `passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${dir}/dovecot-oauth2.conf.ext
}
`
    : ''
}userdb {
  driver = static
  args = uid=${mailUser} gid=${mailUser} home=${dir}/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
${root ? '' : '  chroot =\n'}}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${lmtpPort}
  }
}
${
  saslPort
    ? `service auth {
  inet_listener auth-sasl {
    address = 127.0.0.1
    port = ${saslPort}
  }
}
`
    : ''
}${nonRoot}
`;
  await writeFile(join(dir, 'dovecot.conf'), config);
  if (options.oauth2) {
    // Dovecot 2.3's oauth2 passdb (doc: "OAuth2 authentication database"): RFC 7662 introspection by POST.
    await writeFile(
      join(dir, 'dovecot-oauth2.conf.ext'),
      [
        `introspection_url = ${options.oauth2.introspectionUrl}`,
        'introspection_mode = post',
        'force_introspection = yes',
        'username_attribute = username',
        'active_attribute = active',
        'active_value = true',
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
  }

  let child: ChildProcess | undefined;
  const logPath = join(dir, 'dovecot.log');

  const start = async (): Promise<void> => {
    if (child) return;
    const proc = spawn(binary, ['-F', '-c', join(dir, 'dovecot.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    child = proc;
    proc.once('exit', () => {
      if (child === proc) child = undefined;
    });
    try {
      const deadline = Date.now() + 15_000;
      while (!((await portOpen(imapPort)) && (await portOpen(lmtpPort)))) {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`dovecot exited (${proc.exitCode ?? proc.signalCode}): ${stderr.trim()}`);
        }
        if (Date.now() > deadline) throw new Error('dovecot: ports not open after 15 s');
        await sleep(20);
      }
    } catch (error) {
      proc.kill('SIGKILL');
      child = undefined;
      throw new Error(`${(error as Error).message}\n${await tail(logPath)}`);
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc) return;
    if (proc.exitCode === null && proc.signalCode === null) {
      // The master's SIGTERM leaves logged-in imap processes running (seen with 2.3.19: a client kept
      // working through a "stopped" server), so its children are ended too: a stop is a real outage.
      const children = proc.pid ? await childPids(proc.pid) : [];
      const exited = once(proc, 'exit');
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      for (const pid of children) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone with the master.
        }
      }
    }
    child = undefined;
    await waitForPort(imapPort, false, 10_000, 'dovecot stop (imap)');
    await waitForPort(lmtpPort, false, 10_000, 'dovecot stop (lmtp)');
  };

  await start();
  return {
    dir,
    imapPort,
    lmtpPort,
    saslPort,
    users: options.users,
    get running() {
      return child !== undefined;
    },
    account(user: string): ImapAccount {
      const found = options.users.find((u) => u.name === user);
      if (!found) throw new Error(`no such test mail user: ${user}`);
      return { host: '127.0.0.1', port: imapPort, user: found.name, password: found.password };
    },
    stop,
    start,
    async destroy() {
      await stop();
      if (!options.dir) await rm(dir, { recursive: true, force: true });
    },
    log: () => tail(logPath, 200),
  };
}

/** Processes whose parent is `parent` (from /proc; Linux only, as the whole harness). */
async function childPids(parent: number): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid …; comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === parent) pids.push(Number(name));
  }
  return pids;
}

// --------------------------------------------------------------------------------------------------------
// Postfix

export type PostfixServer = {
  readonly dir: string;
  readonly smtpPort: number;
  /** The submission listener (SASL through Dovecot required), when asked for. */
  readonly submissionPort?: number;
  stop(): Promise<void>;
  log(): Promise<string>;
};

export type StartPostfixOptions = {
  dovecot: DovecotServer;
  /** Domains delivered to Dovecot over LMTP (the local part is the Dovecot user). Default `example.test`. */
  domains?: string[];
  /**
   * A submission listener on another loopback port: clients must authenticate through Dovecot's SASL
   * (the mechanisms Dovecot offers, e.g. XOAUTH2 and OAUTHBEARER with its oauth2 passdb); needs the
   * Dovecot started with `sasl: true`.
   */
  submission?: boolean;
};

export async function startPostfix(options: StartPostfixOptions): Promise<PostfixServer> {
  const postfix = requireBinary('postfix');
  if (!isRoot()) throw new Error('postfix tests need root (postfix runs its daemons as the postfix user)');
  await systemIds('postfix');
  const dir = await makeTempRoot('fte-postfix-');
  const pf = join(dir, 'pf');
  const smtpPort = await freePort();
  const submissionPort = options.submission ? await freePort() : undefined;
  if (options.submission && !options.dovecot.saslPort)
    throw new Error('submission needs startDovecot({ sasl: true })');
  await mkdir(join(pf, 'spool'), { recursive: true });
  await mkdir(join(pf, 'data'), { recursive: true });
  const { uid, gid } = await systemIds('postfix');
  await chown(join(pf, 'data'), uid, gid);
  const domains = options.domains ?? ['example.test'];
  const main = `
compatibility_level = 3.6
queue_directory = ${pf}/spool
data_directory = ${pf}/data
maillog_file = ${pf}/maillog
maillog_file_prefixes = /var, /dev/stdout, /tmp
myhostname = mx.example.test
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = ${domains.join(', ')}
virtual_transport = lmtp:inet:127.0.0.1:${options.dovecot.lmtpPort}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtputf8_enable = no
message_size_limit = 52428800
biff = no
append_dot_mydomain = no
disable_dns_lookups = yes
smtp_dns_support_level = disabled
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
`;
  await writeFile(join(pf, 'main.cf'), main);
  await copyFile('/etc/postfix/master.cf', join(pf, 'master.cf'));
  let masterCf = privateMasterCf(await readFile(join(pf, 'master.cf'), 'utf8'), smtpPort);
  if (submissionPort) {
    masterCf += [
      '',
      `127.0.0.1:${submissionPort}\tinet\tn\t-\tn\t-\t-\tsmtpd`,
      '  -o syslog_name=postfix/submission',
      '  -o smtpd_sasl_auth_enable=yes',
      '  -o smtpd_sasl_type=dovecot',
      `  -o smtpd_sasl_path=inet:127.0.0.1:${options.dovecot.saslPort}`,
      '  -o smtpd_sasl_security_options=noanonymous',
      '  -o smtpd_tls_security_level=none',
      '  -o smtpd_client_restrictions=permit_sasl_authenticated,reject',
      '  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject',
      '',
    ].join('\n');
  }
  await writeFile(join(pf, 'master.cf'), masterCf);
  await copyFile('/etc/postfix/postfix-files', join(pf, 'postfix-files')).catch(() => undefined);

  const run = async (...args: string[]) => {
    try {
      return await exec(postfix, ['-c', pf, ...args], { timeout: 30_000 });
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      throw new Error(
        `postfix ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}\n${await tail(join(pf, 'maillog'))}`,
      );
    }
  };
  await run('set-permissions');
  await run('start');
  try {
    await waitForPort(smtpPort, true, 15_000, 'postfix start');
    if (submissionPort) await waitForPort(submissionPort, true, 15_000, 'postfix start (submission)');
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${await tail(join(pf, 'maillog'))}`);
  }
  const pidFile = join(pf, 'spool', 'pid', 'master.pid');

  return {
    dir,
    smtpPort,
    submissionPort,
    async stop() {
      let pid: number | undefined;
      try {
        pid = Number((await readFile(pidFile, 'utf8')).trim());
      } catch {
        pid = undefined;
      }
      if (pid && Number.isInteger(pid) && pid > 1) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline && alive(pid)) await sleep(25);
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
      await waitForPort(smtpPort, false, 10_000, 'postfix stop');
      if (submissionPort) await waitForPort(submissionPort, false, 10_000, 'postfix stop (submission)');
      await rm(dir, { recursive: true, force: true });
    },
    log: () => tail(join(pf, 'maillog'), 200),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** master.cf with the SMTP listener moved to 127.0.0.1:<port> and chroot off for every service. */
export function privateMasterCf(text: string, port: number): string {
  return text
    .split('\n')
    .map((line) => {
      if (line.startsWith('#') || /^\s/.test(line) || line.trim() === '') return line;
      const fields = line.split(/\s+/);
      if (fields.length < 8) return line;
      if (fields[0] === 'smtp' && fields[1] === 'inet') fields[0] = `127.0.0.1:${port}`;
      fields[4] = 'n';
      return fields.join('\t');
    })
    .join('\n');
}

// --------------------------------------------------------------------------------------------------------
// IMAP helpers

export function imapClient(account: ImapAccount): ImapFlow {
  return new ImapFlow({
    host: account.host,
    port: account.port,
    secure: false,
    auth: { user: account.user, pass: account.password },
    logger: false,
    disableAutoIdle: true,
  });
}

async function withClient<T>(account: ImapAccount, fn: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = imapClient(account);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** Appends a raw RFC 822 message; returns its UID (Dovecot supports UIDPLUS). */
export async function imapAppend(
  account: ImapAccount,
  raw: string | Buffer,
  options: { mailbox?: string; flags?: string[]; date?: Date } = {},
): Promise<number> {
  return withClient(account, async (client) => {
    const mailbox = options.mailbox ?? 'INBOX';
    if (mailbox !== 'INBOX') await client.mailboxCreate(mailbox).catch(() => undefined);
    const result = await client.append(mailbox, raw, options.flags ?? [], options.date);
    if (!result || result.uid === undefined) throw new Error(`IMAP APPEND to ${mailbox} returned no UID`);
    return result.uid;
  });
}

/** Appends many raw messages over one connection (for benchmarks and bulk tests). */
export async function imapAppendMany(
  account: ImapAccount,
  raws: Iterable<string | Buffer>,
  options: { mailbox?: string } = {},
): Promise<number> {
  return withClient(account, async (client) => {
    let count = 0;
    for (const raw of raws) {
      if (!(await client.append(options.mailbox ?? 'INBOX', raw))) throw new Error('IMAP APPEND failed');
      count++;
    }
    return count;
  });
}

export type StoredMessage = { uid: number; flags: string[]; source: Buffer };

/** Every message of a mailbox, in UID order (read with BODY.PEEK: flags are not changed). */
export async function imapRead(account: ImapAccount, mailbox = 'INBOX'): Promise<StoredMessage[]> {
  return withClient(account, async (client) => {
    const lock = await client.getMailboxLock(mailbox);
    try {
      const box = client.mailbox;
      if (!box || box.exists === 0) return [];
      const out: StoredMessage[] = [];
      for await (const message of client.fetch('1:*', { uid: true, flags: true, source: true })) {
        out.push({
          uid: message.uid,
          flags: [...(message.flags ?? [])],
          source: message.source ?? Buffer.alloc(0),
        });
      }
      return out.sort((a, b) => a.uid - b.uid);
    } finally {
      lock.release();
    }
  });
}

/** Sets flags (e.g. `\\Seen`, as a phone reading the mail would) on one message. */
export async function imapAddFlags(
  account: ImapAccount,
  uid: number,
  flags: string[],
  mailbox = 'INBOX',
): Promise<void> {
  await withClient(account, async (client) => {
    const lock = await client.getMailboxLock(mailbox);
    try {
      await client.messageFlagsAdd(String(uid), flags, { uid: true });
    } finally {
      lock.release();
    }
  });
}

/** Polls a mailbox until `predicate` holds for its messages; returns them. */
export async function waitForMessages(
  account: ImapAccount,
  predicate: (messages: StoredMessage[]) => boolean,
  options: { mailbox?: string; timeoutMs?: number; what?: string } = {},
): Promise<StoredMessage[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    const messages = await imapRead(account, options.mailbox);
    if (predicate(messages)) return messages;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${options.what ?? 'messages'} in ${account.user}/${options.mailbox ?? 'INBOX'} (have ${messages.length})`,
      );
    }
    await sleep(100);
  }
}

/** A plain RFC 822 message for tests. */
export function rawMessage(fields: {
  from?: string;
  to?: string;
  cc?: string;
  subject?: string;
  messageId?: string | null;
  inReplyTo?: string;
  references?: string;
  date?: Date;
  body?: string;
  headers?: Record<string, string>;
}): string {
  const lines = [
    `From: ${fields.from ?? 'Client <client@customer.test>'}`,
    `To: ${fields.to ?? 'Owner <owner@example.test>'}`,
  ];
  if (fields.cc) lines.push(`Cc: ${fields.cc}`);
  lines.push(`Subject: ${fields.subject ?? 'Hello'}`);
  lines.push(`Date: ${(fields.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`);
  if (fields.messageId !== null) {
    lines.push(`Message-ID: ${fields.messageId ?? `<${Math.random().toString(36).slice(2)}@customer.test>`}`);
  }
  if (fields.inReplyTo) lines.push(`In-Reply-To: ${fields.inReplyTo}`);
  if (fields.references) lines.push(`References: ${fields.references}`);
  for (const [k, v] of Object.entries(fields.headers ?? {})) lines.push(`${k}: ${v}`);
  lines.push(
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  );
  return `${lines.join('\r\n')}\r\n\r\n${(fields.body ?? 'Hello.\n').replace(/\r?\n/g, '\r\n')}`;
}
