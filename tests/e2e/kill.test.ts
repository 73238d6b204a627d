import { existsSync, watch } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMarkdown } from '../../core/frontmatter.js';
import { stableMessageId } from '../../executor/email.js';
import { git, smtpEnv, smtpServer, testKey, world } from '../executor/helpers.js';
import { cloudEnv } from '../helpers/cli.js';
import { isAncestor, itemText, refUpdates } from '../helpers/vaults.js';
import { gitDaemon, median, prng, sleep, startKillable } from './kill-helpers.js';

/**
 * The vault boundary's kill test: SIGKILL the executor, the operator and `fte sync` at random points of
 * at least 200 passes while approvals flow, against a real SMTP server. Afterwards, clean passes repair
 * and finish everything, and: 0 duplicates, 0 lost approvals, 0 passes that fail after the first repair.
 *
 * Two lanes run side by side, one process at a time each: the cloud lane (`fte operator --once`,
 * `fte sync --once`, items arriving in Needs_Action/email/) on the cloud clone, and the local lane
 * (`fte executor --once`, `fte approve`, `fte resolve`, `fte sync --once`) on the laptop's clone. About
 * half the passes are killed, in one of four ways:
 * - `group`: SIGKILL of the process group (fte and its git children, as a crashed machine or container)
 *   at a random moment after module loading;
 * - `node`: SIGKILL of fte alone (its git children run on as orphans, as after `kill -9 <pid>`);
 * - `in-git`: SIGKILL of the group at the k-th creation or removal of the clone's `.git/index.lock`
 *   (inside `git add`/`commit`/`rebase`, or right between two of them);
 * - `mid-send`: the SMTP server holds its answer to DATA and the executor's group is killed meanwhile (the
 *   message arrived, the executor never learns it: Uncertain).
 * The bare remote is served by `git daemon`, so a killed group never takes the remote's receive-pack down
 * with it. An Uncertain send is resolved the way an owner would, from what the SMTP server received.
 *
 * Replay a run with FTE_KILL_SEED=<seed> (the seed is in every assertion message; the timing of kills
 * still varies with the machine's load). FTE_KILL_PASSES sets the number of passes (default 200);
 * FTE_KILL_LOG=<file> writes every pass (kind, kill, exit code, output) there as JSON; FTE_KILL_KEEP=<dir>
 * copies the remote and both clones there before the checks.
 */

const SEED = Number(process.env.FTE_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const PASSES = Number(process.env.FTE_KILL_PASSES ?? 200);
const ITEMS = 25;
const FROM = 'Owner <owner@example.com>';

type Kind =
  | 'operator'
  | 'sync-cloud'
  | 'executor'
  | 'approve'
  | 'resolve'
  | 'sync-local'
  | 'clean-operator'
  | 'clean-sync-cloud'
  | 'clean-executor'
  | 'clean-approve'
  | 'clean-resolve';
type KillMode = 'none' | 'group' | 'node' | 'in-git' | 'mid-send';

type Pass = {
  n: number;
  lane: 'cloud' | 'local' | 'clean';
  kind: Kind;
  target?: string;
  mode: KillMode;
  killAtMs?: number;
  killed: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  stdout: string;
  stderr: string;
};

const ids = Array.from({ length: ITEMS }, (_, i) => `EMAIL_KILL${String(i).padStart(2, '0')}`);

function operatorEnv(): NodeJS.ProcessEnv {
  return { ...cloudEnv(), FTE_LOG_LEVEL: 'warn' };
}

async function markdownIn(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir)).filter((f) => f.endsWith('.md') && !f.startsWith('.')).sort();
}

async function frontmatter(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return parseMarkdown(await readFile(path, 'utf8')).data;
  } catch {
    return undefined;
  }
}

/** Why a pass that was not killed did not succeed, or undefined when it did. */
function failureOf(p: Pass): string | undefined {
  if (p.killed) return undefined;
  const base = p.kind.replace(/^clean-/, '');
  if (base === 'approve') {
    // "Already carried out" and "nothing to approve" are answers, not errors (exit 1 with that message).
    if (p.code === 0) return undefined;
    if (p.code === 1 && /already been carried out|there is nothing to approve/.test(p.stderr))
      return undefined;
    return `exit ${p.code}`;
  }
  if (p.code !== 0) return `exit ${p.code ?? p.signal}`;
  if (base === 'operator') {
    if (!/; sync synced\s*$/.test(p.stdout)) return 'operator did not end synced';
    if (/Failed/.test(p.stdout)) return 'a task failed';
  }
  if (base === 'sync-cloud' || base === 'sync-local') {
    if (!/^synced/.test(p.stdout)) return 'sync did not end synced';
  }
  if (base === 'executor') {
    if (/REFUSED|FAILED|offline/.test(p.stdout)) return 'the executor refused, failed or was offline';
  }
  return undefined;
}

describe('the vault boundary under SIGKILL', () => {
  it(`${PASSES} passes of operator, executor and sync killed at random points: 0 duplicates, 0 lost approvals, every unkilled pass succeeds`, async () => {
    const context = `seed ${SEED} (replay: FTE_KILL_SEED=${SEED})`;
    const w = await world();
    const smtpOptions: { delayMs?: number } = {};
    const smtp = await smtpServer(smtpOptions);
    await testKey(w.keyFile);

    // The remote as a server of its own (git daemon), its ref updates logged.
    await git(w.remote, 'config', 'core.logAllRefUpdates', 'always');
    const daemon = await gitDaemon(w.root);
    for (const clone of [w.cloud, w.local])
      await git(clone.dir, 'remote', 'set-url', 'origin', daemon.url('remote.git'));

    // The handbook may only tighten the laptop's rate: allow the run's volume.
    const handbook = join(w.cloud.dir, 'Company_Handbook.md');
    const text = await readFile(handbook, 'utf8');
    expect(text).toMatch(/at most 10 emails per hour/i);
    await writeFile(handbook, text.replace(/at most 10 emails per hour/i, 'At most 1000 emails per hour'));
    await w.cloud.repo.commit('cloud: handbook for the kill test', ['Company_Handbook.md']);
    expect((await w.cloud.repo.sync()).state).toBe('synced');
    expect((await w.local.repo.sync()).state).toBe('synced');

    const localEnv = smtpEnv(smtp.port, w.keyFile, { FTE_EMAIL_RATE_PER_HOUR: '1000' });
    const cloudEnv = operatorEnv();

    const passes: Pass[] = [];
    const durations = new Map<string, number[]>();
    const approvedByOwner = new Set<string>();
    const decided = new Map<string, 'sent' | 'not_sent'>();
    let injected = 0;
    let started = 0;
    const defaults: Record<string, number> = {
      operator: 4000,
      'sync-cloud': 1500,
      executor: 3000,
      approve: 1200,
      resolve: 1200,
      'sync-local': 1500,
    };

    const argsOf = (kind: Kind, target?: string): string[] => {
      switch (kind.replace(/^clean-/, '')) {
        case 'operator':
          return ['operator', '--once', '--vault', w.cloud.dir, '--agent', 'cloud'];
        case 'sync-cloud':
          return ['sync', '--once', '--vault', w.cloud.dir, '--agent', 'cloud'];
        case 'executor':
          return ['executor', '--once', '--vault', w.local.dir];
        case 'approve':
          return ['approve', target!, '--vault', w.local.dir];
        case 'resolve':
          return [
            'resolve',
            target!,
            '--vault',
            w.local.dir,
            decided.get(target!) === 'sent' ? '--sent' : '--not-sent',
          ];
        case 'sync-local':
          return ['sync', '--once', '--vault', w.local.dir, '--agent', 'local'];
      }
      throw new Error(kind);
    };

    /** Runs one pass; kills it per `mode` at `fraction` of the kind's typical duration. */
    async function run(
      lane: Pass['lane'],
      kind: Kind,
      target: string | undefined,
      mode: KillMode,
      fraction: number,
    ): Promise<Pass> {
      const base = kind.replace(/^clean-/, '');
      const env = base === 'operator' || base === 'sync-cloud' ? cloudEnv : localEnv;
      const n = started++;
      let killAtMs: number | undefined;
      let killed = false;
      if (mode === 'mid-send') smtpOptions.delayMs = 400;
      const proc = startKillable(argsOf(kind, target), env);
      if (mode === 'group' || mode === 'node') {
        // Somewhere after the first quarter of a typical run (before it, node is still loading modules).
        const typical = median(durations.get(base) ?? []) ?? defaults[base]!;
        killAtMs = Math.round(typical * (0.25 + 0.8 * fraction));
        await Promise.race([proc.done, sleep(killAtMs)]);
        if (!proc.exited()) {
          proc.kill(mode);
          killed = true;
        }
      } else if (mode === 'in-git') {
        // Kill around git's index lock (`git add`, `commit`, `rebase`, `merge`, `status`): at the k-th time
        // it is created or removed (inotify), i.e. inside a git operation or right between two.
        const gitDir = join(base === 'operator' || base === 'sync-cloud' ? w.cloud.dir : w.local.dir, '.git');
        const k = 1 + Math.floor(fraction * 6);
        let seen = 0;
        const t0 = Date.now();
        const watcher = watch(gitDir, (_event, file) => {
          if (file === 'index.lock' && ++seen === k && !proc.exited()) {
            proc.kill('group');
            killed = true;
            killAtMs = Date.now() - t0;
          }
        });
        await proc.done;
        watcher.close();
      } else if (mode === 'mid-send') {
        // Kill while the server holds the answer to DATA: the message arrived, the executor never knows.
        const before = smtp.dataArrived();
        let done = false;
        void proc.done.then(() => (done = true));
        while (!done && smtp.dataArrived() === before) await sleep(5);
        if (!done) {
          killAtMs = Math.round(fraction * 350);
          await Promise.race([proc.done, sleep(killAtMs)]);
          if (!proc.exited()) {
            proc.kill('group');
            killed = true;
          }
        }
      }
      const end = await proc.done;
      if (mode === 'mid-send') smtpOptions.delayMs = 0;
      if (killed && end.signal !== 'SIGKILL') killed = false; // it had exited on its own
      const pass: Pass = { n, lane, kind, target, mode, killAtMs, killed, ...end };
      if (!killed && mode !== 'mid-send') {
        const list = durations.get(base) ?? [];
        list.push(end.ms);
        durations.set(base, list);
      }
      if (base === 'approve' && !killed && end.code === 0) approvedByOwner.add(target!);
      passes.push(pass);
      return pass;
    }

    /** Every received message whose DATA arrived has been recorded (a delayed answer may still be pending). */
    async function smtpSettled(): Promise<void> {
      for (let waited = 0; waited < 10_000 && smtp.received.length < smtp.dataArrived(); waited += 20)
        await sleep(20);
    }

    const messageIdOf = new Map(ids.map((id) => [stableMessageId(id, FROM), id]));
    const receivedFor = (id: string) =>
      smtp.received.filter((m) => m.parsed.messageId === stableMessageId(id, FROM)).length;

    /** Tasks whose approval in the local `Approved/` has this status. */
    async function approvedWith(status: string): Promise<string[]> {
      const out: string[] = [];
      for (const file of await markdownIn(join(w.local.dir, 'Approved'))) {
        const data = await frontmatter(join(w.local.dir, 'Approved', file));
        if (data?.status === status) out.push(file.replace(/\.md$/, ''));
      }
      return out;
    }
    const uncertainIds = () => approvedWith('uncertain');

    const pendingIds = async () =>
      (await markdownIn(join(w.local.dir, 'Pending_Approval', 'email'))).map((f) => f.replace(/\.md$/, ''));

    async function inject(count: number): Promise<void> {
      await mkdir(join(w.cloud.dir, 'Needs_Action', 'email'), { recursive: true });
      for (let i = 0; i < count && injected < ITEMS; i++, injected++) {
        const id = ids[injected]!;
        // Written whole (temp + rename), as the IMAP intake writes: a reader never sees half an item. The
        // temp file lives outside the clone (same file system): a sweep must never commit a half delivery.
        const target = join(w.cloud.dir, 'Needs_Action', 'email', `${id}.md`);
        const part = join(w.root, `${id}.md.part`);
        await writeFile(
          part,
          itemText(
            {
              type: 'email',
              from: `Client ${injected} <client${injected}@example.com>`,
              subject: `Invoice ${injected}`,
              received: new Date().toISOString(),
              message_id: `<kill-${injected}@mail.example.com>`,
            },
            `## Email Content\nCould you send invoice ${injected}?\n`,
          ),
        );
        await rename(part, target);
      }
    }

    const pickKill = (rng: () => number, kind: Kind, sendable = false): KillMode => {
      if (rng() >= 0.55) return 'none';
      if (kind === 'executor' && sendable && rng() < 0.5) return 'mid-send';
      if (kind !== 'approve' && kind !== 'resolve' && rng() < 0.35) return 'in-git';
      return rng() < 0.75 ? 'group' : 'node';
    };

    const cloudLane = async (rng: () => number) => {
      for (let i = 0; started < PASSES; i++) {
        // All items arrive over the first ~50 cloud passes, a few at a time.
        const due = Math.min(ITEMS, Math.ceil(((i + 1) * ITEMS) / 50));
        if (injected < due && (rng() < 0.5 || due - injected > 3)) await inject(1 + Math.floor(rng() * 3));
        const kind: Kind = rng() < 0.45 ? 'operator' : 'sync-cloud';
        await run('cloud', kind, undefined, pickKill(rng, kind), rng());
      }
    };

    const localLane = async (rng: () => number) => {
      while (started < PASSES) {
        await smtpSettled();
        const roll = rng();
        let kind: Kind = 'executor';
        let target: string | undefined;
        const pending = await pendingIds();
        const uncertain = await uncertainIds();
        if (roll < 0.3 && pending.length > 0) {
          kind = 'approve';
          target = pending[Math.floor(rng() * pending.length)];
        } else if (roll < 0.4 && uncertain.length > 0) {
          kind = 'resolve';
          target = uncertain[Math.floor(rng() * uncertain.length)]!;
          decided.set(target, receivedFor(target) > 0 ? 'sent' : 'not_sent');
        } else if (roll < 0.55) {
          kind = 'sync-local';
        }
        const sendable = (await approvedWith('approved')).length > 0;
        await run('local', kind, target, pickKill(rng, kind, sendable), rng());
      }
    };

    const seeds = prng(SEED);
    await Promise.all([
      cloudLane(prng(Math.floor(seeds() * 2 ** 31))),
      localLane(prng(Math.floor(seeds() * 2 ** 31))),
    ]);
    const chaos = passes.length;
    while (injected < ITEMS) await inject(ITEMS);

    // The clean passes: no kills, until every item is Done everywhere.
    const remoteFiles = async () => (await git(w.remote, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
    for (let round = 0; round < 6; round++) {
      await run('clean', 'clean-operator', undefined, 'none', 0);
      await run('clean', 'clean-executor', undefined, 'none', 0);
      for (const id of await pendingIds()) await run('clean', 'clean-approve', id, 'none', 0);
      await run('clean', 'clean-executor', undefined, 'none', 0);
      await smtpSettled();
      for (const id of await uncertainIds()) {
        decided.set(id, receivedFor(id) > 0 ? 'sent' : 'not_sent');
        await run('clean', 'clean-resolve', id, 'none', 0);
      }
      await run('clean', 'clean-executor', undefined, 'none', 0);
      await run('clean', 'clean-sync-cloud', undefined, 'none', 0);
      const files = await remoteFiles();
      const cloudHead = (await git(w.cloud.dir, 'rev-parse', 'HEAD')).trim();
      const localHead = (await git(w.local.dir, 'rev-parse', 'HEAD')).trim();
      const remoteHead = (await git(w.remote, 'rev-parse', 'main')).trim();
      if (
        ids.every((id) => files.includes(`Done/${id}.md`)) &&
        cloudHead === remoteHead &&
        localHead === remoteHead
      )
        break;
    }
    await smtpSettled();
    if (process.env.FTE_KILL_LOG) await writeFile(process.env.FTE_KILL_LOG, JSON.stringify(passes, null, 1));
    if (process.env.FTE_KILL_KEEP) {
      for (const [name, dir] of [
        ['remote.git', w.remote],
        ['cloud', w.cloud.dir],
        ['local', w.local.dir],
      ])
        await cp(dir!, join(process.env.FTE_KILL_KEEP, name), { recursive: true, verbatimSymlinks: true });
    }

    // ---- 0 passes that fail after the first repair -------------------------------------------------------
    const failures = passes
      .map((p) => ({ p, why: failureOf(p) }))
      .filter((f) => f.why)
      .map(
        ({ p, why }) =>
          `#${p.n} ${p.kind}${p.target ? ` ${p.target}` : ''} (${why}; after ${passes
            .filter((q) => q.n < p.n && q.lane === p.lane)
            .slice(-3)
            .map((q) => `${q.kind}${q.killed ? ` killed@${q.killAtMs}ms/${q.mode}` : ''}`)
            .join(
              ', ',
            )}):\n  stdout: ${p.stdout.trim().slice(-600)}\n  stderr: ${p.stderr.trim().slice(-1500)}`,
      );
    const killed = passes.filter((p) => p.killed).length;
    const summary = `${context}; ${chaos} passes, ${killed} killed (${['in-git', 'mid-send'].map((m) => `${passes.filter((p) => p.killed && p.mode === m).length} ${m}`).join(', ')}), ${passes.length - chaos} clean`;
    expect.soft(chaos, summary).toBeGreaterThanOrEqual(200);
    expect.soft(failures, `${summary}\n${failures.join('\n')}`).toEqual([]);

    // ---- 0 duplicates -----------------------------------------------------------------------------------
    const byMessageId = new Map<string, number>();
    for (const m of smtp.received) {
      const mid = m.parsed.messageId ?? '(none)';
      byMessageId.set(mid, (byMessageId.get(mid) ?? 0) + 1);
    }
    const duplicates = [...byMessageId]
      .filter(([, count]) => count > 1)
      .map(([mid, count]) => `${messageIdOf.get(mid) ?? mid} ×${count}`);
    expect.soft(duplicates, summary).toEqual([]);
    const strangers = [...byMessageId.keys()].filter((mid) => !messageIdOf.has(mid));
    expect.soft(strangers, summary).toEqual([]);

    // ---- 0 lost approvals: every item drafted once, approved, sent once, filed in Done/ everywhere ------
    const remoteTree = await remoteFiles();
    const remoteLog = (await git(w.remote, 'log', '--format=%s', 'main')).split('\n');
    const problems: string[] = [];
    for (const id of ids) {
      // One approval request per item: at most one draft commit (a draft a kill left uncommitted is
      // committed by the next sweep instead), and its file added to Pending_Approval/ exactly once.
      const drafts = remoteLog.filter((s) => s === `cloud: draft ${id}`).length;
      if (drafts > 1) problems.push(`${id}: ${drafts} draft commits on the remote`);
      const requests = (
        await git(
          w.remote,
          'log',
          '--diff-filter=A',
          '--format=%H',
          'main',
          '--',
          `Pending_Approval/email/${id}.md`,
        )
      )
        .split('\n')
        .filter(Boolean).length;
      if (requests !== 1) problems.push(`${id}: approval request added ${requests} times on the remote`);
      const sent = receivedFor(id);
      if (sent !== 1) problems.push(`${id}: ${sent} messages received`);
      if (!remoteTree.includes(`Done/${id}.md`)) problems.push(`${id}: not in Done/ on the remote`);
      const done = await frontmatter(join(w.local.dir, 'Done', `${id}.md`));
      if (done?.status !== 'executed') problems.push(`${id}: local Done/ status ${String(done?.status)}`);
      for (const [where, tree] of [
        ['remote', remoteTree],
        ['local', (await git(w.local.dir, 'ls-files')).split('\n')],
        ['cloud', (await git(w.cloud.dir, 'ls-files')).split('\n')],
      ] as const) {
        const left = tree.filter(
          (p) =>
            p.endsWith(`/${id}.md`) &&
            !p.startsWith('Done/') &&
            !p.startsWith('Updates/') &&
            !p.startsWith('Plans/'),
        );
        if (left.length) {
          // An item quarantined: why (the error file's reason) and which commits touched it.
          const dir = where === 'remote' ? w.local.dir : where === 'local' ? w.local.dir : w.cloud.dir;
          const why = await Promise.all(
            left.map(async (p) => {
              const reason = (await frontmatter(join(dir, p)))?.error;
              const history = await git(dir, 'log', '--format=%h %s', '--all', '--', p).catch(() => '');
              return `${p}: ${String(reason ?? '')} [${history.trim().split('\n').join('; ')}]`;
            }),
          );
          problems.push(`${id}: still in ${left.join(', ')} (${where}) — ${why.join(' | ')}`);
        }
      }
    }
    const notSentApproved = [...approvedByOwner].filter((id) => receivedFor(id) !== 1);
    expect.soft(notSentApproved, summary).toEqual([]);
    expect.soft(problems, summary).toEqual([]);

    // ---- git: intact, nothing half-done, history only fast-forwarded ------------------------------------
    for (const dir of [w.remote, w.cloud.dir, w.local.dir])
      await git(dir, 'fsck', '--strict', '--no-progress');
    const leftovers: string[] = [];
    for (const clone of [w.cloud, w.local]) {
      for (const f of [
        'index.lock',
        'rebase-merge',
        'rebase-apply',
        'MERGE_HEAD',
        'HEAD.lock',
        'refs/heads/main.lock',
      ])
        if (existsSync(join(clone.dir, '.git', f))) leftovers.push(`${clone.repo.agent}: .git/${f}`);
      const staged = (await git(clone.dir, 'diff', '--cached', '--name-only')).trim();
      if (staged) leftovers.push(`${clone.repo.agent}: staged ${staged.split('\n').join(', ')}`);
      const status = (await git(clone.dir, 'status', '--porcelain', '--untracked-files=all')).trim();
      if (status) leftovers.push(`${clone.repo.agent}: working tree ${status.split('\n').join(', ')}`);
    }
    expect.soft(leftovers, summary).toEqual([]);
    const updates = await refUpdates(w.remote);
    expect(updates.length, summary).toBeGreaterThan(ITEMS);
    const rewrites: string[] = [];
    for (const [older, newer] of updates)
      if (!(await isAncestor(w.remote, older, newer))) rewrites.push(`${older}..${newer}`);
    expect.soft(rewrites, summary).toEqual([]);
    const junk = remoteTree.filter((p) => /\.conflict-|\.tmp$/.test(p));
    expect.soft(junk, summary).toEqual([]);
  }, 900_000);
});
