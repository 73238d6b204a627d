import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../core/audit.js';
import { parseMarkdown, stringifyMarkdown } from '../../core/frontmatter.js';
import { idempotencyKey } from '../../executor/actions/at-most-once.js';
import { approveTask, DecisionError, rejectTask, resolveTask } from '../../executor/decisions.js';
import { stableMessageId } from '../../executor/email.js';
import type { Ledger } from '../../executor/ledger.js';
import {
  cloudDrafts,
  executive,
  localLedger,
  smtpServer,
  testKey,
  type World,
  world,
} from '../executor/helpers.js';

/**
 * The ledger and approval state machine as a model (issue 14). A real cloud and laptop clone of a real bare
 * remote, the real executive and two real SMTP servers: one that accepts, one that drops the connection
 * after DATA (the send's outcome unknown: Uncertain). Random sequences of the owner's decisions (approve,
 * reject by command or by moving the file, resolve an Uncertain send truthfully), the hostile cloud's moves
 * (replay an old signed approval, change an approved file's recipient without re-signing, approve a draft
 * itself with a forged signature), executor passes over each server or none, and kills (a process dead
 * right after writing its intent, the next pass a fresh executive on the same files) are checked after
 * every command against: no task's message ever reaches a server twice; none reaches one unless the owner
 * signed that task; none after the owner's rejection; none to a recipient the owner did not approve.
 */

const OWNER_TO = 'client@example.com';
const EVIL_TO = 'evil@example.com';
const FROM = 'owner@example.com';

type TaskModel = {
  /** The owner signed this task at least once. */
  signed: boolean;
  /** A copy of a signed approval file, for the cloud to replay. */
  signedCopy?: string;
  /** The owner's rejection went through (no later approval): nothing may be sent from then on. */
  rejected: boolean;
};
type Model = { tasks: Record<string, TaskModel> };

type Smtp = Awaited<ReturnType<typeof smtpServer>>;
type Real = {
  w: World;
  key: Buffer;
  ok: Smtp;
  drop: Smtp;
  ids: string[];
  log: string[];
};

/** Every message that reached either server (accepted, or dropped after its data arrived) for task `id`. */
function deliveries(real: Real, id: string): string[] {
  const messageId = stableMessageId(id, FROM);
  return [...real.ok.arrived, ...real.drop.arrived].filter((raw) =>
    new RegExp(`^Message-ID:\\s*${messageId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'im').test(raw),
  );
}

function check(model: Model, real: Real): void {
  const trail = real.log.join('\n');
  for (const id of real.ids) {
    const sent = deliveries(real, id);
    expect(sent.length, `${id} delivered ${sent.length} times\n${trail}`).toBeLessThanOrEqual(1);
    const task = model.tasks[id] as TaskModel;
    if (task.rejected) expect(sent, `${id} was rejected\n${trail}`).toEqual([]);
    if (sent.length > 0) {
      expect(task.signed, `${id} delivered though the owner never signed it\n${trail}`).toBe(true);
      expect(sent[0], `${id} went to a recipient the owner did not approve\n${trail}`).not.toContain(EVIL_TO);
      expect(sent[0]).toMatch(new RegExp(`^To: ${OWNER_TO}`, 'im'));
    }
  }
}

function decisionContext(real: Real, ledger: Ledger) {
  return {
    root: real.w.local.dir,
    agent: 'local',
    owner: 'owner',
    audit: new AuditLog(real.w.local.dir),
    clock: () => new Date(),
    ledger,
  };
}

/** Runs an owner's decision; a DecisionError (the state does not allow it) is an answer, not a failure. */
async function decide(real: Real, what: string, fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    real.log.push(`${what}: done`);
    return true;
  } catch (error) {
    if (!(error instanceof DecisionError)) throw error;
    real.log.push(`${what}: ${error.kind} (${error.message.slice(0, 100)})`);
    return false;
  }
}

type Mode = 'ok' | 'drop' | 'down';

/** One executor pass: a fresh Executive (a new process) on the same clone, ledger and key. */
class Pass implements fc.AsyncCommand<Model, Real> {
  constructor(readonly mode: Mode) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    // Port 9 on loopback: nothing listens (connection refused: certainly not sent).
    const port = this.mode === 'ok' ? real.ok.port : this.mode === 'drop' ? real.drop.port : 9;
    const report = await executive(real.w, real.key, port).pass();
    real.log.push(
      `${this}: sent ${JSON.stringify(report.sent.map((s) => s.id))} uncertain ${JSON.stringify(
        report.uncertain.map((u) => u.id),
      )} refused ${JSON.stringify(report.refused.map((r) => r.id))}`,
    );
    check(model, real);
  }
  toString = () => `pass(${this.mode})`;
}

class Approve implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const dir = real.w.local.dir;
    // The owner reads what they approve: a request whose recipient someone changed is not approved.
    for (const path of [`Approved/${this.id}.md`, `Pending_Approval/email/${this.id}.md`]) {
      if (existsSync(join(dir, path)) && (await readFile(join(dir, path), 'utf8')).includes(EVIL_TO)) {
        real.log.push(`${this}: the owner sees ${EVIL_TO} and does not approve`);
        return;
      }
    }
    const ledger = await localLedger(real.w);
    const ok = await decide(real, `${this}`, () =>
      approveTask(decisionContext(real, ledger), real.key, this.id, 'cli'),
    );
    if (ok) {
      const task = model.tasks[this.id] as TaskModel;
      task.signed = true;
      task.rejected = false;
      task.signedCopy = await readFile(join(dir, `Approved/${this.id}.md`), 'utf8');
    }
    check(model, real);
  }
  toString = () => `approve(${this.id})`;
}

class Reject implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly id: string,
    readonly how: 'command' | 'move',
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const dir = real.w.local.dir;
    const before = deliveries(real, this.id).length;
    if (this.how === 'command') {
      const ledger = await localLedger(real.w);
      const ok = await decide(real, `${this}`, () =>
        rejectTask(decisionContext(real, ledger), this.id, 'no', 'cli', ledger),
      );
      if (ok) {
        // A task that reached a server (sent, or maybe sent) can no longer be rejected.
        expect(before, `${this} went through after a delivery\n${real.log.join('\n')}`).toBe(0);
        (model.tasks[this.id] as TaskModel).rejected = true;
      }
    } else {
      // The owner drags the file into Rejected/ (Obsidian); the next pass takes it in, or puts it back.
      const from = [`Pending_Approval/email/${this.id}.md`, `Approved/${this.id}.md`].find((p) =>
        existsSync(join(dir, p)),
      );
      if (from === undefined || existsSync(join(dir, `Rejected/${this.id}.md`))) {
        real.log.push(`${this}: nothing to move`);
        return;
      }
      await mkdir(join(dir, 'Rejected'), { recursive: true });
      await rename(join(dir, from), join(dir, `Rejected/${this.id}.md`));
      real.log.push(`${this}: moved ${from}`);
      // Not modelled as a rejection: the pass may refuse it (already sent or Uncertain) and put it back.
    }
    check(model, real);
  }
  toString = () => `reject(${this.id}, ${this.how})`;
}

/** The owner answers an Uncertain send truthfully: sent if its data reached a server, else not sent. */
class Resolve implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = (model: Model) => (model.tasks[this.id] as TaskModel).signed;
  async run(model: Model, real: Real): Promise<void> {
    const outcome = deliveries(real, this.id).length > 0 ? 'sent' : 'not_sent';
    const ledger = await localLedger(real.w);
    await decide(real, `${this} ${outcome}`, () =>
      resolveTask(decisionContext(real, ledger), ledger, this.id, outcome),
    );
    check(model, real);
  }
  toString = () => `resolve(${this.id})`;
}

/** The cloud writes a file into its clone and pushes it (the hostile remote's only way in). */
async function cloudWrites(real: Real, path: string, text: string, message: string): Promise<void> {
  const cloud = real.w.cloud;
  await mkdir(join(cloud.dir, path, '..'), { recursive: true });
  await writeFile(join(cloud.dir, path), text);
  await cloud.repo.commit(message, [path]);
  await cloud.repo.sync();
}

class Replay implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = (model: Model) => (model.tasks[this.id] as TaskModel).signedCopy !== undefined;
  async run(model: Model, real: Real): Promise<void> {
    await real.w.cloud.repo.sync();
    const copy = (model.tasks[this.id] as TaskModel).signedCopy as string;
    await cloudWrites(real, `Approved/${this.id}.md`, copy, `cloud: replay ${this.id}`);
    real.log.push(`${this}`);
    check(model, real);
  }
  toString = () => `replay(${this.id})`;
}

/** The cloud changes the recipient of an approved (signed) file, keeping the signature. */
class Tamper implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = (model: Model) => (model.tasks[this.id] as TaskModel).signed;
  async run(model: Model, real: Real): Promise<void> {
    await real.w.cloud.repo.sync();
    const path = `Approved/${this.id}.md`;
    const file = join(real.w.cloud.dir, path);
    if (!existsSync(file)) {
      real.log.push(`${this}: no approved file in the cloud's clone`);
      return;
    }
    const doc = parseMarkdown(await readFile(file, 'utf8'));
    await cloudWrites(
      real,
      path,
      stringifyMarkdown({ data: { ...doc.data, to: EVIL_TO }, body: doc.body }),
      `cloud: edit ${this.id}`,
    );
    real.log.push(`${this}`);
    check(model, real);
  }
  toString = () => `tamper(${this.id})`;
}

/** The cloud approves its own draft: moved to Approved/, status approved, a signature it made up. */
class Forge implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const cloud = real.w.cloud;
    await cloud.repo.sync();
    const from = `Pending_Approval/email/${this.id}.md`;
    if (!existsSync(join(cloud.dir, from))) {
      real.log.push(`${this}: no draft in the cloud's clone`);
      return;
    }
    const doc = parseMarkdown(await readFile(join(cloud.dir, from), 'utf8'));
    const data = {
      ...doc.data,
      status: 'approved',
      approved_by: 'owner',
      approved_at: new Date().toISOString(),
      approval_signature: `hmac-sha256:${'0'.repeat(64)}`,
    };
    await mkdir(join(cloud.dir, 'Approved'), { recursive: true });
    await writeFile(join(cloud.dir, `Approved/${this.id}.md`), stringifyMarkdown({ data, body: doc.body }));
    await rm(join(cloud.dir, from));
    await cloud.repo.commit(`cloud: approve ${this.id}`, [from, `Approved/${this.id}.md`]);
    await cloud.repo.sync();
    real.log.push(`${this}`);
    check(model, real);
  }
  toString = () => `forge(${this.id})`;
}

/**
 * The executor dies right after writing its intent for an approved task, before any connection (what
 * `FTE_TEST_CRASH_AFTER_INTENT` does to a real process): the ledger holds the intent, nothing was sent.
 */
class KillAfterIntent implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = (model: Model) => (model.tasks[this.id] as TaskModel).signed;
  async run(model: Model, real: Real): Promise<void> {
    const path = join(real.w.local.dir, `Approved/${this.id}.md`);
    if (!existsSync(path)) {
      real.log.push(`${this}: nothing approved`);
      return;
    }
    const data = parseMarkdown(await readFile(path, 'utf8')).data;
    const ledger = await localLedger(real.w);
    const key = idempotencyKey({ data: data as { action: string; task: string; content_sha256: string } });
    const { state } = await ledger.state(key);
    if (data.status !== 'approved' || (state !== 'fresh' && state !== 'retry')) {
      real.log.push(`${this}: not about to send (status ${String(data.status)}, ledger ${state})`);
      return;
    }
    await ledger.append({
      ts: new Date().toISOString(),
      key,
      task: this.id,
      action: 'send_email',
      message_id: stableMessageId(this.id, FROM),
      kind: 'intent',
    });
    real.log.push(`${this}`);
    check(model, real);
  }
  toString = () => `killAfterIntent(${this.id})`;
}

const IDS = ['EMAIL_A', 'EMAIL_B'];
const id = fc.constantFrom(...IDS);
const commands = [
  fc.constantFrom<Mode>('ok', 'drop', 'down').map((m) => new Pass(m)),
  fc.constantFrom<Mode>('ok', 'drop').map((m) => new Pass(m)),
  id.map((t) => new Approve(t)),
  id.map((t) => new Approve(t)),
  fc.tuple(id, fc.constantFrom<'command' | 'move'>('command', 'move')).map(([t, how]) => new Reject(t, how)),
  id.map((t) => new Resolve(t)),
  id.map((t) => new Replay(t)),
  id.map((t) => new Tamper(t)),
  id.map((t) => new Forge(t)),
  id.map((t) => new KillAfterIntent(t)),
];

describe('the ledger and approval state machine against a reference model', () => {
  it('never executes a task twice, unsigned, after its rejection, or to a recipient the owner did not sign', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 14, size: 'max' }), async (cmds) => {
        const w = await world();
        const key = await testKey(w.keyFile);
        // Fresh servers per run: what they record is this run's alone.
        const ok = await smtpServer();
        const drop = await smtpServer({ dropAfterData: true });
        for (const t of IDS) await cloudDrafts(w.cloud, t, { to: OWNER_TO, push: t === IDS.at(-1) });
        const real: Real = { w, key, ok, drop, ids: IDS, log: [] };
        const model: Model = {
          tasks: Object.fromEntries(IDS.map((t) => [t, { signed: false, rejected: false }])),
        };
        await executive(w, key, undefined).pass();
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        // Whatever is left: two more passes over the accepting server.
        await new Pass('ok').run(model, real);
        await new Pass('ok').run(model, real);
      }),
      { numRuns: 10, endOnFailure: true },
    );
  }, 600_000);
});
