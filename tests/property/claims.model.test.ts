import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ClaimOutcome, VaultRepo } from '../../core/vault-repo.js';
import { git, itemText, remoteWithClones } from '../helpers/vaults.js';

/**
 * The claim protocol as a model (issue 14): two agents' real clones of a real bare remote, driven by
 * random command sequences (claim, a concurrent race, sync, the remote moving on so a push is rejected,
 * the remote unreachable, a process killed mid-claim) and checked after every command against a reference
 * model whose only state is "who owns each item on the remote" and "which claims an agent committed but
 * has not pushed". The invariant: each item is in exactly one place (Needs_Action/ or one
 * In_Progress/<agent>/) on the remote and in every clone, none lost; after a final sync, all agree with
 * the model. Real git is slow: few runs, short sequences, random seeds (fast-check prints the one that fails).
 */

const AGENTS = ['cloud', 'local'] as const;
type Agent = (typeof AGENTS)[number];
const ITEMS = ['ITEM_A', 'ITEM_B'];

type Model = {
  /** Who owns each item on the remote (undefined: still in Needs_Action/). */
  owner: Map<string, Agent | undefined>;
  /** Claims an agent committed (a kill mid-claim) but has not pushed: they land only if still free. */
  pending: Record<Agent, Set<string>>;
  /** Items the intake added meanwhile (never claimed here; they must simply not get lost). */
  added: string[];
};

type Clone = { dir: string; repo: VaultRepo };
type Real = {
  root: string;
  remote: string;
  clones: Record<Agent, Clone>;
  intake: Clone;
  log: string[];
};

const other = (agent: Agent): Agent => (agent === 'cloud' ? 'local' : 'cloud');

/** An agent's push landed: each claim it had committed wins if the item is still free, else is dropped. */
function settlePending(model: Model, agent: Agent): void {
  for (const id of model.pending[agent]) {
    if (model.owner.get(id) === undefined) model.owner.set(id, agent);
  }
  model.pending[agent].clear();
}

/** Where an item is in a list of vault paths: `Needs_Action/<domain>` or `In_Progress/<agent>`. */
function placesIn(paths: string[], id: string): string[] {
  return paths
    .filter((p) => p.endsWith(`/${id}.md`) && (p.startsWith('Needs_Action/') || p.startsWith('In_Progress/')))
    .map((p) => p.slice(0, p.lastIndexOf('/')));
}

async function workingTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const top of ['Needs_Action', 'In_Progress']) {
    for (const sub of await readdir(join(dir, top)).catch(() => [] as string[])) {
      for (const name of await readdir(join(dir, top, sub)).catch(() => [] as string[])) {
        out.push(`${top}/${sub}/${name}`);
      }
    }
  }
  return out;
}

const treeOf = async (dir: string, rev: string): Promise<string[]> =>
  (await git(dir, 'ls-tree', '-r', '--name-only', rev)).split('\n').filter(Boolean);

const expectedPlace = (owner: Agent | undefined): string =>
  owner === undefined ? 'Needs_Action/email' : `In_Progress/${owner}`;

/** After every command: each item in exactly one place on the remote and in each clone; the remote as modelled. */
async function checkInvariant(model: Model, real: Real): Promise<void> {
  const remoteTree = await treeOf(real.remote, 'main');
  // Claims never edit an item: a conflict copy of one means two claims were both kept.
  expect(
    remoteTree.filter((p) => p.includes('.conflict-')),
    real.log.join('\n'),
  ).toEqual([]);
  for (const id of ITEMS) {
    expect(placesIn(remoteTree, id), `${id} on the remote\n${real.log.join('\n')}`).toEqual([
      expectedPlace(model.owner.get(id)),
    ]);
  }
  for (const id of model.added) {
    expect(placesIn(remoteTree, id), `${id} on the remote`).toEqual(['Needs_Action/email']);
  }
  for (const agent of AGENTS) {
    const tree = await workingTree(real.clones[agent].dir);
    expect(
      tree.filter((p) => p.includes('.conflict-')),
      `${agent}\n${real.log.join('\n')}`,
    ).toEqual([]);
    for (const id of ITEMS) {
      expect(placesIn(tree, id), `${id} in ${agent}'s clone\n${real.log.join('\n')}`).toHaveLength(1);
    }
  }
}

/** What the model allows a claim to answer, and whether it pushes (so the agent's committed claims land). */
function claimExpectation(model: Model, agent: Agent, id: string): { results: string[]; pushes: boolean } {
  const owner = model.owner.get(id);
  // A claim this clone committed (or moved and its recovery committed) but never pushed is won only once it
  // is on the remote: the claim pushes it now ("won", and every claim it committed lands), or the push is
  // rejected because the remote moved on ("offline": the next sync decides). When the remote already gave
  // the item to the other agent, the push is always rejected (or a recovery that put the moved item back
  // lets the claim run again and learn it: "lost").
  if (model.pending[agent].has(id)) {
    const takenByOther = owner !== undefined && owner !== agent;
    return { results: takenByOther ? ['offline', 'lost'] : ['won', 'offline'], pushes: false };
  }
  if (owner === agent) return { results: ['won'], pushes: false };
  if (owner !== undefined) return { results: ['lost'], pushes: false };
  return { results: ['won'], pushes: true };
}

class Claim implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly agent: Agent,
    readonly id: string,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const expected = claimExpectation(model, this.agent, this.id);
    const outcome = await real.clones[this.agent].repo.claim(this.id);
    real.log.push(`${this} -> ${JSON.stringify(outcome)}`);
    expect(expected.results, `${this}: ${JSON.stringify(outcome)}\n${real.log.join('\n')}`).toContain(
      outcome.result,
    );
    if (expected.pushes) {
      settlePending(model, this.agent);
      model.owner.set(this.id, this.agent);
    } else if (model.pending[this.agent].has(this.id) && outcome.result === 'won') {
      // Its committed claims were pushed.
      settlePending(model, this.agent);
    }
    // It yielded: its own commit of the claim is gone.
    if (outcome.result === 'lost') model.pending[this.agent].delete(this.id);
    await checkInvariant(model, real);
  }
  toString = () => `claim(${this.agent}, ${this.id})`;
}

/** Both agents claim the same item at once: the real race, one push rejected. */
class Race implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = (model: Model) => AGENTS.every((a) => !model.pending[a].has(this.id));
  async run(model: Model, real: Real): Promise<void> {
    const owner = model.owner.get(this.id);
    const [a, b] = await Promise.all(AGENTS.map((agent) => real.clones[agent].repo.claim(this.id)));
    const outcomes: Record<Agent, ClaimOutcome> = { cloud: a as ClaimOutcome, local: b as ClaimOutcome };
    real.log.push(`${this} -> ${JSON.stringify(outcomes)}`);
    const winners = AGENTS.filter((agent) => outcomes[agent].result === 'won');
    expect(winners, `${this}: ${JSON.stringify(outcomes)}\n${real.log.join('\n')}`).toHaveLength(1);
    const winner = winners[0] as Agent;
    expect(outcomes[other(winner)].result).toBe('lost');
    if (owner === undefined) {
      settlePending(model, winner);
      model.owner.set(this.id, winner);
    } else {
      expect(winner).toBe(owner);
    }
    await checkInvariant(model, real);
  }
  toString = () => `race(${this.id})`;
}

class Sync implements fc.AsyncCommand<Model, Real> {
  constructor(readonly agent: Agent) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const dead = [...model.pending[this.agent]].filter((id) => model.owner.get(id) !== undefined);
    const report = await real.clones[this.agent].repo.sync();
    real.log.push(`${this} -> ${report.state} lost ${JSON.stringify(report.lostClaims)}`);
    expect(report.state).toBe('synced');
    expect(report.conflicts).toEqual([]);
    for (const id of report.lostClaims) expect(dead).toContain(id);
    settlePending(model, this.agent);
    await checkInvariant(model, real);
  }
  toString = () => `sync(${this.agent})`;
}

/** The remote moves on: the intake adds an item and pushes, so the agents' next pushes are rejected first. */
class RemoteMoves implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const id = `NEW_${model.added.length}`;
    expect((await real.intake.repo.sync()).state).toBe('synced');
    await writeFile(
      join(real.intake.dir, 'Needs_Action/email', `${id}.md`),
      itemText({ type: 'email', subject: id }),
    );
    await real.intake.repo.commit(`intake: add ${id}`);
    expect((await real.intake.repo.sync()).state).toBe('synced');
    model.added.push(id);
    real.log.push(`${this}`);
    await checkInvariant(model, real);
  }
  toString = () => 'remoteMoves';
}

/** The remote is unreachable for one claim: nothing is won that the model does not already give the agent. */
class Unreachable implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly agent: Agent,
    readonly id: string,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const away = join(real.root, 'away.git');
    const before = await workingTree(real.clones[this.agent].dir);
    await rename(real.remote, away);
    let outcome: ClaimOutcome;
    try {
      outcome = await real.clones[this.agent].repo.claim(this.id);
    } finally {
      await rename(away, real.remote);
    }
    real.log.push(`${this} -> ${JSON.stringify(outcome)}`);
    const owner = model.owner.get(this.id);
    // A claim committed but not pushed cannot be pushed now: not won until it is on the remote.
    const allowed = model.pending[this.agent].has(this.id)
      ? ['offline']
      : owner === this.agent
        ? ['won']
        : owner === undefined
          ? ['offline']
          : ['lost', 'offline'];
    expect(allowed, `${this}: ${JSON.stringify(outcome)}\n${real.log.join('\n')}`).toContain(outcome.result);
    // Nothing moved in the clone.
    expect((await workingTree(real.clones[this.agent].dir)).sort()).toEqual(before.sort());
    await checkInvariant(model, real);
  }
  toString = () => `unreachable(${this.agent}, ${this.id})`;
}

type KillPoint = 'start' | 'moved' | 'moved+index.lock' | 'committed';

/**
 * The agent's process dies mid-way, in a claim: at its start (nothing done), after the move, during its
 * `git add` (a stale index.lock), or after its commit; and maybe an earlier process died in a sync right
 * after its fetch (origin/main ahead of HEAD). Its owner lock is left behind by a dead pid; the next
 * command gets a fresh VaultRepo on the same clone, which repairs it first.
 */
class Kill implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly agent: Agent,
    readonly id: string,
    readonly afterFetch: boolean,
    readonly point: KillPoint,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const clone = real.clones[this.agent];
    const dir = clone.dir;
    // The process that dies starts like any other: it takes the clone over and repairs what the last
    // one left (a status read runs that under the lock), then gets as far as this kill point.
    await clone.repo.status(['Needs_Action']);
    if (this.afterFetch) await git(dir, 'fetch', '--quiet', 'origin');
    const source = `Needs_Action/email/${this.id}.md`;
    const target = `In_Progress/${this.agent}/${this.id}.md`;
    // A claim moves only an item its clone sees as free; otherwise it dies having done nothing.
    if (this.point !== 'start' && existsSync(join(dir, source))) {
      await mkdir(join(dir, 'In_Progress', this.agent), { recursive: true });
      await rename(join(dir, source), join(dir, target));
      model.pending[this.agent].add(this.id);
      if (this.point === 'moved+index.lock') {
        await writeFile(join(dir, '.git', 'index.lock'), '');
        const old = new Date(Date.now() - 60_000);
        await utimes(join(dir, '.git', 'index.lock'), old, old);
      }
      if (this.point === 'committed') {
        await git(dir, 'add', '--all', '--', source, target);
        await git(dir, 'commit', '--quiet', '--no-verify', '-m', `${this.agent}: claim ${this.id}`);
      }
    }
    // The dead process still "holds" the owner lock.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    await mkdir(join(dir, '.git', 'fte'), { recursive: true });
    await writeFile(join(dir, '.git', 'fte', 'lock'), `${dead}\n`);
    real.clones[this.agent] = { dir, repo: new VaultRepo({ root: dir, agent: this.agent }) };
    real.log.push(`${this}`);
    await checkInvariant(model, real);
  }
  toString = () => `kill(${this.agent}, ${this.id}, ${this.afterFetch ? 'fetched, ' : ''}${this.point})`;
}

const agent = fc.constantFrom(...AGENTS);
const item = fc.constantFrom(...ITEMS);
const claim = fc.tuple(agent, item).map(([a, i]) => new Claim(a, i));
const kill = fc
  .tuple(
    agent,
    item,
    fc.boolean(),
    fc.constantFrom<KillPoint>('start', 'moved', 'moved+index.lock', 'committed'),
  )
  .map(([a, i, f, p]) => new Kill(a, i, f, p));
// fc.commands picks uniformly among these: claims and kills are listed twice, to be tried twice as often.
const commands = [
  claim,
  claim,
  kill,
  kill,
  item.map((i) => new Race(i)),
  agent.map((a) => new Sync(a)),
  fc.constant(new RemoteMoves()),
  fc.tuple(agent, item).map(([a, i]) => new Unreachable(a, i)),
];

async function setup(): Promise<{ model: Model; real: Real }> {
  const { root, remote, clones } = await remoteWithClones([...AGENTS, 'intake']);
  const intake = clones.intake as Clone;
  for (const id of ITEMS) {
    await writeFile(
      join(intake.dir, 'Needs_Action/email', `${id}.md`),
      itemText({ type: 'email', subject: id }),
    );
  }
  await intake.repo.commit('intake: add items');
  expect((await intake.repo.sync()).state).toBe('synced');
  for (const a of AGENTS) expect((await (clones[a] as Clone).repo.sync()).state).toBe('synced');
  return {
    model: {
      owner: new Map(ITEMS.map((id) => [id, undefined])),
      pending: { cloud: new Set(), local: new Set() },
      added: [],
    },
    real: {
      root,
      remote,
      clones: { cloud: clones.cloud as Clone, local: clones.local as Clone },
      intake,
      log: [],
    },
  };
}

describe('the claim protocol against a reference model', () => {
  it('each item is owned by exactly one agent and none is lost, whatever the agents, the remote and kills do', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 12, size: 'max' }), async (cmds) => {
        const { model, real } = await setup();
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        // Both agents sync until the clones agree: every committed claim has been pushed or dropped.
        for (const a of [...AGENTS, ...AGENTS]) {
          const report = await real.clones[a].repo.sync();
          expect(report.state).toBe('synced');
          settlePending(model, a);
        }
        const remoteTree = await treeOf(real.remote, 'main');
        for (const a of AGENTS) {
          const dir = real.clones[a].dir;
          expect(await git(dir, 'status', '--porcelain', '--', 'Needs_Action', 'In_Progress')).toBe('');
          expect(await treeOf(dir, 'HEAD'), `${a}'s HEAD is the remote's`).toEqual(remoteTree);
        }
        for (const id of ITEMS) {
          expect(placesIn(remoteTree, id), `${id} after the final sync\n${real.log.join('\n')}`).toEqual([
            expectedPlace(model.owner.get(id)),
          ]);
        }
        for (const id of model.added) expect(placesIn(remoteTree, id)).toEqual(['Needs_Action/email']);
      }),
      { numRuns: 15, endOnFailure: true },
    );
  }, 600_000);
});
