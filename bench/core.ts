import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { initVault } from '../core/init.js';
import { VaultRepo } from '../core/vault-repo.js';
import { ms, percentile, printTable, progress, type Row, timed } from './report.js';

const exec = promisify(execFile);
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

async function writeItems(dir: string, count: number, prefix: string): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
  await mkdir(join(dir, 'Needs_Action', 'email'), { recursive: true });
  await Promise.all(
    ids.map((id) =>
      writeFile(
        join(dir, 'Needs_Action', 'email', `${id}.md`),
        `---\ntype: email\nsubject: ${id}\n---\n\nbody\n`,
      ),
    ),
  );
  return ids;
}

/** Idle `fte sync --once` (the real CLI, process start included) on a vault of 10 000 files. */
async function idleSync(root: string, files: number, runs: number): Promise<Row[]> {
  progress(`idle sync: building a ${files}-file vault`);
  const remote = join(root, 'idle-remote.git');
  await exec('git', ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  const dir = join(root, 'idle');
  await initVault(dir, { remote, agent: 'cloud' });
  await writeItems(dir, files, 'IDLE_');
  const repo = new VaultRepo({ root: dir, agent: 'cloud' });
  await repo.commit('cloud: add items');
  await repo.sync();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [, elapsed] = await timed(() =>
      exec(process.execPath, [CLI, 'sync', '--once', '--vault', dir, '--agent', 'cloud']),
    );
    samples.push(elapsed);
  }
  const [, gitStatus] = await timed(() => exec('git', ['status', '--porcelain'], { cwd: dir }));
  // Steady state of a daemon: origin/main did not move, so the remote checks are skipped entirely.
  const steady: number[] = [];
  for (let i = 0; i < runs * 3; i++) steady.push((await timed(() => repo.sync()))[1]);
  const inProcess = percentile(steady, 50);
  return [
    {
      what: `idle \`fte sync --once\`, ${files} files (p50 of ${runs}, whole process)`,
      result: ms(percentile(samples, 50)),
      target: '≤ 250 ms',
    },
    { what: 'same, p95', result: ms(percentile(samples, 95)) },
    { what: `same cycle in-process (daemon steady state, p50 of ${runs * 3})`, result: ms(inProcess) },
    { what: 'plain `git status --porcelain` on that vault', result: ms(gitStatus) },
  ];
}

/**
 * A sync cycle that pulls one new commit into a vault of `files` files: the remote moved, so its tip is
 * checked (tree scan, commit count, ignored files) before the fast-forward, and pulled links are looked for.
 */
async function pullOne(root: string, files: number, runs: number): Promise<Row[]> {
  progress(`pull one commit: two clones of a ${files}-file vault`);
  const remote = join(root, 'pull-remote.git');
  await exec('git', ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  await initVault(join(root, 'pusher'), { remote, agent: 'cloud' });
  const pusher = new VaultRepo({ root: join(root, 'pusher'), agent: 'cloud' });
  await writeItems(join(root, 'pusher'), files, 'PULL_');
  await pusher.commit('cloud: add items');
  await pusher.sync();
  await initVault(join(root, 'puller'), { remote, agent: 'local' });
  const puller = new VaultRepo({ root: join(root, 'puller'), agent: 'local' });
  await puller.sync();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    await writeFile(join(root, 'pusher', 'Plans', `note-${i}.md`), `note ${i}\n`);
    await pusher.sync();
    const [report, elapsed] = await timed(() => puller.sync());
    if (report.pulled !== 1) throw new Error(`expected to pull 1 commit, got ${JSON.stringify(report)}`);
    samples.push(elapsed);
  }
  return [
    {
      what: `sync pulling 1 new commit into ${files} files (remote checked first; p50 of ${runs})`,
      result: ms(percentile(samples, 50)),
    },
    { what: 'same, p95', result: ms(percentile(samples, 95)) },
  ];
}

/** Two agents claim the same items, each in its own order, through one bare remote. */
async function claimContention(root: string, items: number): Promise<Row[]> {
  progress(`claims: 2 agents × ${items} items through one bare remote (takes a few minutes)`);
  const remote = join(root, 'claims-remote.git');
  await exec('git', ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  const agents = ['cloud', 'local'];
  const repos: VaultRepo[] = [];
  for (const agent of agents) {
    await initVault(join(root, agent), { remote, agent });
    repos.push(new VaultRepo({ root: join(root, agent), agent }));
  }
  const ids = await writeItems(join(root, 'cloud'), items, 'CLAIM_');
  await repos[0]!.commit('cloud: add items');
  await repos[0]!.sync();
  await repos[1]!.sync();
  const order = (seed: number) =>
    [...ids].sort(
      (a, b) => ((a.charCodeAt(a.length - 1) * seed) % 7) - ((b.charCodeAt(b.length - 1) * seed) % 7),
    );
  let done = 0;
  const [won, elapsed] = await timed(() =>
    Promise.all(
      repos.map(async (repo, n) => {
        const mine: string[] = [];
        for (const id of order(n + 3)) {
          const outcome = await repo.claim(id);
          if (outcome.result === 'won') mine.push(id);
          if (++done % 200 === 0) progress(`claims: ${done}/${items * 2} attempts`);
        }
        return mine;
      }),
    ),
  );
  const all = won.flat();
  const doubles = all.length - new Set(all).size;
  const lost = ids.filter((id) => !all.includes(id)).length;
  return [
    { what: `claims: 2 agents × ${items} items, wall time`, result: `${(elapsed / 1000).toFixed(1)} s` },
    { what: 'claims landed per second (both agents)', result: `${((items / elapsed) * 1000).toFixed(1)} /s` },
    { what: 'won by cloud / local', result: `${won[0]!.length} / ${won[1]!.length}` },
    { what: 'double claims', result: String(doubles), target: '0' },
    { what: 'lost items', result: String(lost), target: '0' },
  ];
}

export async function benchCore(options: { files?: number; items?: number } = {}): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'fte-bench-core-'));
  try {
    const rows = [
      ...(await idleSync(root, options.files ?? 10_000, 10)),
      ...(await pullOne(root, options.files ?? 10_000, 15)),
      ...(options.items === 0 ? [] : await claimContention(root, options.items ?? 1_000)),
    ];
    printTable('core: sync and claims', rows);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const items = Number(process.env.FTE_BENCH_ITEMS ?? 1000);
  await benchCore({ items });
}
