import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImapFlow, type MessageStructureObject } from 'imapflow';
import pino, { type Logger } from 'pino';
import { type ImapConfig, imapAccountLabel, imapAuth } from '../../core/imap-config.js';
import { clearLoginNeeded, LoginRequired } from '../../core/oauth/token-source.js';
import { EmailIntake, type IntakeInput, type IntakeOutcome } from '../email/intake.js';
import { emailTaskId, type MailSource } from '../email/item.js';
import { type AttachmentInfo, cleanLine, EmailParseError, messageIds, parseEmail } from '../email/parse.js';
import { type MailboxState, MailboxStateStore } from '../email/state.js';
import { updateSignal } from '../vault-writes.js';
import type { Watcher, WatcherContext } from './watcher.js';

/**
 * The cloud's inbox watcher (DESIGN.md §1, ADR 0002). It opens the mailbox read-only (EXAMINE, so it can
 * never change a flag), waits with IMAP IDLE where the server offers it and polls otherwise (and every
 * `pollMs` anyway, in case an IDLE session died quietly), and hands each new message, in UID order, to
 * EmailIntake. Connection failures reconnect with exponential backoff; one bad message never stops it:
 * it becomes a task or an error file with the reason, and the watcher moves on.
 *
 * Exactly once per message: the UID mark (per UIDVALIDITY, in `.fte/imap/`) moves only after the vault
 * change is committed, and EmailIntake recognises a message the vault already holds, so a crash, a
 * restart or a lost state file never duplicates one. The \Seen flag plays no part.
 */

export type WatcherStatus = {
  connected: boolean;
  idle: boolean;
  lastCheckAt?: string;
  lastError?: string;
  handled: Record<IntakeOutcome['kind'], number>;
};

export type ImapWatcherOptions = {
  /** The settings, or a function read before every connection (so a remounted secret is picked up). */
  config: ImapConfig | (() => ImapConfig);
  intake: EmailIntake;
  /** Where the UID mark lives; default `<vault>/.fte/imap`. */
  stateDir: string;
  clock?: () => Date;
  log?: Logger;
  /** Reconnect backoff: starts at `initialMs`, doubles up to `maxMs`, with ±20 % jitter. */
  backoff?: { initialMs: number; maxMs: number };
  /** Called after every message (tests and benchmarks watch the watcher through this). */
  onOutcome?: (outcome: IntakeOutcome, source: MailSource) => void;
  /**
   * The OAuth sign-in was revoked or expired (`line` says to run `fte mail login` again): called once per
   * episode; `restored` once a connection works again. Intake waits meanwhile and nothing is lost (the UID
   * mark has not moved).
   */
  onLogin?: (event: { kind: 'needed'; line: string } | { kind: 'restored' }) => void;
};

const DOWNLOAD_CHUNK = 4 * 1024 * 1024;
/** A message that fails this many times for a reason other than the connection becomes an error file. */
const MAX_ATTEMPTS = 3;
/** Raw bytes of a message that cannot be parsed are fetched again up to this size, to keep beside its error file. */
const MAX_ORIGINAL_BYTES = 1024 * 1024;

/** The connection is gone or unusable: reconnect, do not blame the message. */
class ConnectionLost extends Error {}

export class ImapWatcher {
  readonly name = 'imap';
  private readonly clock: () => Date;
  private readonly log: Logger;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly attempts = new Map<number, number>();
  private store?: MailboxStateStore;
  private state?: MailboxState;
  private storeAccount?: string;
  private loginNeeded?: string;
  private forceRefresh = false;
  private readonly current: WatcherStatus = {
    connected: false,
    idle: false,
    handled: { created: 0, followup: 0, error: 0, duplicate: 0 },
  };

  constructor(private readonly options: ImapWatcherOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.log = (options.log ?? pino({ level: 'silent' })).child({ watcher: 'imap' });
    this.backoff = options.backoff ?? { initialMs: 1000, maxMs: 5 * 60_000 };
  }

  /** `login-needed` in the state dir: a sign-in was refused and no connection has worked since. */
  private loginMarker(): string {
    return join(this.options.stateDir, 'login-needed');
  }

  static defaultStateDir(vaultRoot: string): string {
    return join(vaultRoot, '.fte', 'imap');
  }

  status(): WatcherStatus {
    return { ...this.current, handled: { ...this.current.handled } };
  }

  private config(): ImapConfig {
    return typeof this.options.config === 'function' ? this.options.config() : this.options.config;
  }

  /** Connects, takes in everything new, disconnects (`fte operator --once`). Errors are thrown. */
  async runOnce(): Promise<WatcherStatus> {
    const config = this.config();
    const client = await this.client(config);
    await client.connect();
    this.current.connected = true;
    try {
      const lock = await client.getMailboxLock(config.mailbox, { readOnly: true });
      try {
        await this.catchUp(client, config);
      } finally {
        lock.release();
      }
    } finally {
      this.current.connected = false;
      await client.logout().catch(() => client.close());
    }
    return this.status();
  }

  /** Watches until `signal` aborts; never throws for a connection or message problem. */
  async run(signal: AbortSignal): Promise<void> {
    let delay = this.backoff.initialMs;
    while (!signal.aborted) {
      let config: ImapConfig | undefined;
      try {
        config = this.config();
        await this.session(config, signal, () => {
          delay = this.backoff.initialMs;
        });
      } catch (error) {
        this.current.connected = false;
        this.current.idle = false;
        if (signal.aborted) break;
        const message = describe(error);
        this.current.lastError = message;
        if (error instanceof LoginRequired) {
          if (this.loginNeeded !== message) {
            this.loginNeeded = message;
            this.log.error({ account: config ? imapAccountLabel(config) : undefined }, `IMAP: ${message}`);
            // Remembered beside the UID mark, so a restarted operator still says when it is resolved.
            await mkdir(this.options.stateDir, { recursive: true })
              .then(() => writeFile(this.loginMarker(), `${message}\n`))
              .catch(() => undefined);
            this.options.onLogin?.({ kind: 'needed', line: message });
          }
          // Wait for a new login (the token file is read again on every attempt).
          await sleep(Math.min(delay, this.backoff.maxMs), undefined, { signal }).catch(() => undefined);
          delay = Math.min(delay * 2, this.backoff.maxMs);
          continue;
        }
        if (config?.oauthTokenFile && (error as { authenticationFailed?: boolean }).authenticationFailed) {
          // The server refused an access token we thought valid (revoked early): refresh before the next try.
          this.forceRefresh = true;
        }
        const wait = Math.round(delay * (0.8 + Math.random() * 0.4));
        this.log.warn(
          { account: config ? imapAccountLabel(config) : undefined, retryInMs: wait },
          `IMAP: ${message}; reconnecting in ${(wait / 1000).toFixed(1)} s`,
        );
        await sleep(wait, undefined, { signal }).catch(() => undefined);
        delay = Math.min(delay * 2, this.backoff.maxMs);
      }
    }
    this.current.connected = false;
  }

  private async client(config: ImapConfig): Promise<ImapFlow> {
    const force = this.forceRefresh;
    this.forceRefresh = false;
    return new ImapFlow({
      host: config.host,
      port: config.port,
      secure: config.secure,
      auth: await imapAuth(config, force),
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: 30_000,
      greetingTimeout: 16_000,
      socketTimeout: Math.max(5 * 60_000, config.pollMs * 2),
      clientInfo: { name: 'fte', version: '0.1' },
    });
  }

  /** One connection: catch up, then wait for news (IDLE or poll), until it breaks or we are stopped. */
  private async session(config: ImapConfig, signal: AbortSignal, connected: () => void): Promise<void> {
    const client = await this.client(config);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.on('error', (error: Error) => this.log.debug({ err: error.message }, 'IMAP connection error'));
    let wake: () => void = () => undefined;
    // Set when the server reports new mail, also while a catch-up runs (so the next wait is skipped).
    let news = false;
    client.on('exists', () => {
      news = true;
      wake();
    });
    const onAbort = () => wake();
    signal.addEventListener('abort', onAbort);
    try {
      await client.connect();
      const lock = await client.getMailboxLock(config.mailbox, { readOnly: true });
      try {
        this.current.connected = true;
        this.log.info({ account: imapAccountLabel(config) }, 'IMAP connected');
        if (config.oauthTokenFile) await clearLoginNeeded(config.oauthTokenFile);
        const remembered = await rm(this.loginMarker()).then(
          () => true,
          () => false,
        );
        if (this.loginNeeded !== undefined || remembered) {
          this.loginNeeded = undefined;
          this.current.lastError = undefined;
          this.log.info({ account: imapAccountLabel(config) }, 'IMAP: signed in again; intake resumes');
          this.options.onLogin?.({ kind: 'restored' });
        }
        const useIdle = config.idle && client.capabilities.has('IDLE');
        let first = true;
        while (!signal.aborted) {
          if (!client.usable) throw new ConnectionLost('the server closed the connection');
          news = false;
          await this.catchUp(client, config);
          if (first) {
            connected();
            first = false;
          }
          if (signal.aborted) break;
          if (news) continue;
          const woken = new Promise<void>((resolve) => {
            wake = resolve;
          });
          const timer = sleep(config.pollMs, undefined, { ref: false }).catch(() => undefined);
          if (useIdle) {
            this.current.idle = true;
            // Resolves when IDLE ends; the next command (catchUp's search) ends it.
            client.idle().catch((error: unknown) => this.log.debug({ err: describe(error) }, 'IDLE ended'));
          }
          await Promise.race([woken, timer, closed]);
          this.current.idle = false;
          if (!useIdle && client.usable) await client.noop();
        }
      } finally {
        lock.release();
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.current.connected = false;
      this.current.idle = false;
      if (client.usable) await client.logout().catch(() => client.close());
      else client.close();
    }
  }

  private async ensureStore(config: ImapConfig): Promise<MailboxStateStore> {
    const account = imapAccountLabel(config);
    if (!this.store || this.storeAccount !== account) {
      this.store = new MailboxStateStore(this.options.stateDir, account);
      this.storeAccount = account;
      this.state = await this.store.load();
    }
    return this.store;
  }

  /** Takes in every message after the UID mark, oldest first. */
  async catchUp(client: ImapFlow, config: ImapConfig): Promise<void> {
    const store = await this.ensureStore(config);
    const box = client.mailbox;
    if (!box) throw new ConnectionLost(`mailbox ${config.mailbox} is not open`);
    const uidValidity = box.uidValidity.toString();
    const now = this.clock();
    if (!this.state || this.state.uid_validity !== uidValidity) {
      if (this.state) {
        this.log.warn(
          { before: this.state.uid_validity, now: uidValidity },
          'UIDVALIDITY changed: the server renumbered the mailbox; rescanning the start window (known messages are recognised by Message-ID)',
        );
      }
      // A fresh start: the window is the last `sinceDays` days of what is there now, then everything new.
      const since =
        config.sinceDays > 0 ? new Date(now.getTime() - config.sinceDays * 86_400_000) : undefined;
      const existing = Math.max(0, box.uidNext - 1);
      this.state = await store.save({
        version: 1,
        account: imapAccountLabel(config),
        uid_validity: uidValidity,
        last_uid: since ? 0 : existing,
        scan_until: since && existing > 0 ? existing : null,
        started_at: now.toISOString(),
        since: since?.toISOString() ?? null,
        updated_at: now.toISOString(),
      });
    }
    this.current.lastCheckAt = now.toISOString();
    if (box.exists === 0) return;
    const { last_uid: last, scan_until: scanUntil, since } = this.state;
    if (scanUntil !== null && last < scanUntil) {
      // Still inside the start window: only messages received since then, up to what was there at the start.
      const query = since
        ? { uid: `${last + 1}:${scanUntil}`, since: new Date(since) }
        : { uid: `${last + 1}:${scanUntil}` };
      const window = (await this.searchUids(client, query)).filter((uid) => uid > last && uid <= scanUntil);
      await this.handleAll(client, config, uidValidity, window);
      this.state = await store.save({
        ...this.state,
        last_uid: Math.max(this.state.last_uid, scanUntil),
        scan_until: null,
      });
    }
    const from = this.state.last_uid;
    const fresh = (await this.searchUids(client, { uid: `${from + 1}:*` })).filter((uid) => uid > from);
    await this.handleAll(client, config, uidValidity, fresh);
  }

  private async handleAll(
    client: ImapFlow,
    config: ImapConfig,
    uidValidity: string,
    uids: number[],
  ): Promise<void> {
    if (uids.length === 0) return;
    await this.options.intake.refresh();
    for (const uid of [...uids].sort((a, b) => a - b)) {
      if (!client.usable) throw new ConnectionLost('the connection closed while taking in messages');
      await this.handle(client, config, uidValidity, uid);
    }
  }

  private async searchUids(client: ImapFlow, query: Parameters<ImapFlow['search']>[0]): Promise<number[]> {
    const result = await client.search(query, { uid: true });
    if (result === false || result === undefined) throw new ConnectionLost('SEARCH failed');
    return Array.isArray(result) ? result : [];
  }

  /** One message: read it, hand it to the intake, move the mark. */
  private async handle(
    client: ImapFlow,
    config: ImapConfig,
    uidValidity: string,
    uid: number,
  ): Promise<void> {
    const store = this.store;
    if (!store || !this.state) throw new Error('state not loaded');
    const meta = await client.fetchOne(
      String(uid),
      { uid: true, size: true, internalDate: true, envelope: true },
      { uid: true },
    );
    if (!client.usable) throw new ConnectionLost('the connection closed while fetching');
    let messageId: string | undefined;
    if (meta) {
      const source: MailSource = {
        user: config.user,
        host: config.host,
        mailbox: config.mailbox,
        uidValidity,
        uid,
        internalDate: meta.internalDate ? new Date(meta.internalDate) : undefined,
        size: meta.size,
      };
      messageId = meta.envelope?.messageId ? messageIds(meta.envelope.messageId)[0] : undefined;
      const known =
        messageId && store.hasRecent(messageId)
          ? 'state'
          : await this.options.intake.known(messageId, source);
      if (known) {
        this.count({ kind: 'duplicate', id: emailTaskId(messageId, source), where: known }, source);
      } else {
        const input = await this.read(client, config, source, meta.envelope);
        messageId = input.kind === 'email' ? (input.email.messageId ?? messageId) : messageId;
        const outcome = await this.options.intake.accept(input);
        this.count(outcome, source);
      }
      if (messageId) await store.rememberMessageId(messageId);
    }
    // No meta: expunged before we got to it; nothing to take in.
    this.attempts.delete(uid);
    this.state = await store.save({ ...this.state, last_uid: uid, updated_at: this.clock().toISOString() });
  }

  private count(outcome: IntakeOutcome, source: MailSource): void {
    this.current.handled[outcome.kind]++;
    this.options.onOutcome?.(outcome, source);
  }

  /** Downloads and parses a message; what cannot be read becomes an `unreadable` input with the reason. */
  private async read(
    client: ImapFlow,
    config: ImapConfig,
    source: MailSource,
    envelope:
      | { messageId?: string; subject?: string; from?: Array<{ address?: string }>; date?: Date | string }
      | undefined,
  ): Promise<IntakeInput> {
    const facts = {
      messageId: envelope?.messageId ? messageIds(envelope.messageId)[0] : undefined,
      from: envelope?.from?.[0]?.address ? cleanLine(envelope.from[0].address, 320) : undefined,
      subject: envelope?.subject ? cleanLine(envelope.subject, 500) : undefined,
      date: envelope?.date ? new Date(envelope.date) : undefined,
    };
    try {
      if ((source.size ?? 0) > config.maxMessageBytes)
        return await this.readHeadersOnly(client, config, source);
      const download = await client.download(String(source.uid), undefined, {
        uid: true,
        chunkSize: DOWNLOAD_CHUNK,
      });
      if (!download.content) throw new ConnectionLost(`message UID ${source.uid} could not be downloaded`);
      const email = await parseEmail(download.content);
      return { kind: 'email', email, source };
    } catch (error) {
      if (!client.usable || error instanceof ConnectionLost) throw new ConnectionLost(describe(error));
      const attempts = (this.attempts.get(source.uid) ?? 0) + 1;
      this.attempts.set(source.uid, attempts);
      if (!(error instanceof EmailParseError) && attempts < MAX_ATTEMPTS) throw error;
      this.log.warn(
        { uid: source.uid, err: describe(error) },
        'message cannot be read; filing it as an error',
      );
      return {
        kind: 'unreadable',
        reason: describe(error),
        source,
        facts,
        raw: await this.rawForError(client, source),
      };
    }
  }

  /** Too big to download: a task from the headers and the MIME structure, saying so. */
  private async readHeadersOnly(
    client: ImapFlow,
    config: ImapConfig,
    source: MailSource,
  ): Promise<IntakeInput> {
    const head = await client.fetchOne(
      String(source.uid),
      { uid: true, headers: true, bodyStructure: true },
      { uid: true },
    );
    if (head === false || !head.headers)
      throw new ConnectionLost(`headers of UID ${source.uid} could not be fetched`);
    const email = await parseEmail(Buffer.concat([head.headers, Buffer.from('\r\n')]));
    email.attachments = head.bodyStructure ? attachmentsOf(head.bodyStructure) : [];
    email.problems.push(
      `the message is ${mb(source.size ?? 0)}, above the ${mb(config.maxMessageBytes)} download limit (IMAP_MAX_MESSAGE_BYTES): its text was not downloaded; read it in your mail client`,
    );
    return { kind: 'email', email, source };
  }

  private async rawForError(client: ImapFlow, source: MailSource): Promise<Buffer | undefined> {
    if ((source.size ?? Number.POSITIVE_INFINITY) > MAX_ORIGINAL_BYTES || !client.usable) return undefined;
    try {
      const message = await client.fetchOne(String(source.uid), { uid: true, source: true }, { uid: true });
      return message ? message.source : undefined;
    } catch {
      return undefined;
    }
  }
}

const mb = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;

/** Attachments listed from BODYSTRUCTURE (for a message too large to download). */
export function attachmentsOf(node: MessageStructureObject): AttachmentInfo[] {
  const out: AttachmentInfo[] = [];
  const visit = (part: MessageStructureObject) => {
    if (part.childNodes?.length) {
      part.childNodes.forEach(visit);
      return;
    }
    const name = part.dispositionParameters?.filename ?? part.parameters?.name;
    const isBody = !name && part.type.startsWith('text/') && part.disposition !== 'attachment';
    if (isBody) return;
    out.push({
      name: cleanLine(name ?? '', 255) || `(unnamed ${part.type})`,
      size: estimateDecoded(part),
      type: cleanLine(part.type, 100),
    });
  };
  visit(node);
  return out;
}

/** BODYSTRUCTURE sizes are of the encoded part; base64 is 4/3 of the bytes. */
function estimateDecoded(part: MessageStructureObject): number {
  const size = part.size ?? 0;
  return part.encoding?.toLowerCase() === 'base64' ? Math.floor((size * 3) / 4) : size;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const extra =
      (error as { responseText?: string; code?: string }).responseText ?? (error as { code?: string }).code;
    return extra && !error.message.includes(extra) ? `${error.message} (${extra})` : error.message;
  }
  return String(error);
}

/**
 * The IMAP watcher as one of the operator's watchers (`fte operator` starts it when `IMAP_HOST` is set).
 * The settings are read again before every connection, so a rotated secret file is picked up.
 */
export class ImapInboxWatcher implements Watcher {
  readonly name = 'imap';
  private running?: { abort: AbortController; done: Promise<void> };
  watcher?: ImapWatcher;

  constructor(
    private readonly config: ImapConfig | (() => ImapConfig),
    private readonly options: { stateDir?: string; backoff?: ImapWatcherOptions['backoff'] } = {},
  ) {}

  async start(context: WatcherContext): Promise<void> {
    if (this.running) return;
    const log = context.logger;
    this.watcher = new ImapWatcher({
      config: this.config,
      intake: new EmailIntake({ vault: context.vault, clock: context.clock, log }),
      stateDir: this.options.stateDir ?? ImapWatcher.defaultStateDir(context.vault.root),
      clock: context.clock,
      log,
      backoff: this.options.backoff,
      onOutcome: (outcome) => {
        if (outcome.kind !== 'duplicate') context.notify([outcome.id]);
      },
      onLogin: (event) => {
        void this.signalLogin(context, event).catch((error: unknown) =>
          log.warn({ err: describe(error) }, 'could not write the mail sign-in signal'),
        );
      },
    });
    const abort = new AbortController();
    context.signal.addEventListener('abort', () => abort.abort(), { once: true });
    this.running = { abort, done: this.watcher.run(abort.signal) };
  }

  /** Tells the laptop (Dashboard.md, the status page) through an `Updates/` signal. */
  private async signalLogin(
    context: WatcherContext,
    event: { kind: 'needed'; line: string } | { kind: 'restored' },
  ): Promise<void> {
    const created = context.clock().toISOString();
    const kind = event.kind === 'needed' ? 'mail_login_needed' : 'mail_login_restored';
    const summary = event.kind === 'needed' ? event.line : 'the cloud signed in to the mailbox again';
    const id = `mail-login-${created.replace(/[:.]/g, '-')}`;
    const signal = updateSignal({ agent: context.agent, kind, id, created, summary });
    await context.vault.apply({
      message: `${context.agent}: signal ${id}`,
      operations: [{ op: 'write', path: signal.path, mode: 'ensure', content: signal.text }],
    });
    context.notify();
  }

  /**
   * One pass for `fte operator --once`: connect, take in everything new, disconnect. (For the operator's
   * run-once path to call before it mirrors the vault.)
   */
  async once(context: Pick<WatcherContext, 'vault' | 'logger' | 'clock'>): Promise<WatcherStatus> {
    const watcher = new ImapWatcher({
      config: this.config,
      intake: new EmailIntake({ vault: context.vault, clock: context.clock, log: context.logger }),
      stateDir: this.options.stateDir ?? ImapWatcher.defaultStateDir(context.vault.root),
      clock: context.clock,
      log: context.logger,
    });
    return watcher.runOnce();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running.abort.abort();
    await this.running.done;
    this.running = undefined;
  }
}
