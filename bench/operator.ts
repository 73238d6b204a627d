import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { initVault } from '../core/init.js';
import { VaultRepo } from '../core/vault-repo.js';
import { MemoryTaskStore } from '../operator/controller/memory-store.js';
import { TemplateDrafter } from '../operator/drafters/template.js';
import { Mirror } from '../operator/mirror.js';
import { Operator } from '../operator/operator.js';
import { ms, percentile, printTable, progress, type Row, timed } from './report.js';

const exec = promisify(execFile);
const logger = pino({ level: 'silent' });
const SELF = fileURLToPath(import.meta.url);

function emailItem(n: number): string {
  return [
    '---',
    'type: email',
    `from: "client${n}@example.com"`,
    `subject: "Invoice ${n} for January"`,
    'received: "2026-01-07T10:30:00Z"',
    `message_id: "<m${n}@mail.example.com>"`,
    'priority: high',
    'status: pending',
    '---',
    '',
    '## Email Content',
    `Hello, could you send invoice ${n}? Thanks.`,
    '',
  ].join('\n');
}

async function writeItems(dir: string, domain: string, count: number, prefix: string): Promise<void> {
  await mkdir(join(dir, 'Needs_Action', domain), { recursive: true });
  for (let i = 0; i < count; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - i) }, (_, j) =>
        writeFile(
          join(dir, 'Needs_Action', domain, `${prefix}${String(i + j).padStart(5, '0')}.md`),
          emailItem(i + j),
        ),
      ),
    );
  }
}

/** Cold mirror (fresh process state, files on disk) and a resync of the unchanged vault. */
async function mirrorBench(root: string, items: number): Promise<Row[]> {
  progress(`mirror: writing ${items} items`);
  const dir = join(root, 'mirror');
  await writeItems(dir, 'email', items, 'EMAIL_');
  const store = new MemoryTaskStore();
  const mirror = new Mirror({ root: dir, store, logger });
  const [cold, coldMs] = await timed(() => mirror.resync());
  const [, warmMs] = await timed(() => mirror.resync());
  return [
    { what: `cold mirror of ${cold.tasks} items into the memory store`, result: ms(coldMs), target: '≤ 2 s' },
    { what: 'resync of the unchanged vault (nothing applied)', result: ms(warmMs) },
  ];
}

/** `--once` over N email items with the template drafter, claims pushed to a bare remote on disk. */
async function reconcileBench(root: string, items: number): Promise<Row[]> {
  progress(`reconcile: ${items} email items with the template drafter and a bare remote`);
  const remote = join(root, 'reconcile-remote.git');
  await exec('git', ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  const dir = join(root, 'reconcile');
  await initVault(dir, { remote, agent: 'cloud' });
  await writeItems(dir, 'email', items, 'EMAIL_');
  const repo = new VaultRepo({ root: dir, agent: 'cloud' });
  await repo.commit('cloud: add items');
  await repo.sync();
  const operator = new Operator({ vault: dir, agent: 'cloud', drafter: new TemplateDrafter(), logger });
  const [report, elapsed] = await timed(() => operator.runOnce());
  const drafted = report.phases.PendingApproval ?? 0;
  return [
    {
      what: `reconcile ${items} items to approval requests (claim+push, triage, draft), template drafter`,
      result: `${((drafted / elapsed) * 1000).toFixed(1)} items/s`,
    },
    { what: 'same, wall time (sync, mirror, reconcile, push)', result: `${(elapsed / 1000).toFixed(1)} s` },
  ];
}

/** Item written in the cloud clone → approval file in the local clone; the daemon and Local sync every second. */
async function handoverBench(root: string, samples: number): Promise<Row[]> {
  progress(`handover: ${samples} items through a running operator and a local clone syncing every second`);
  const remote = join(root, 'handover-remote.git');
  await exec('git', ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  const cloudDir = join(root, 'handover-cloud');
  const localDir = join(root, 'handover-local');
  await initVault(cloudDir, { remote, agent: 'cloud' });
  await initVault(localDir, { remote, agent: 'local' });
  const local = new VaultRepo({ root: localDir, agent: 'local' });
  const operator = new Operator({
    vault: cloudDir,
    agent: 'cloud',
    drafter: new TemplateDrafter(),
    logger,
    syncIntervalMs: 1000,
  });
  await operator.start();
  let stop = false;
  const localLoop = (async () => {
    while (!stop) {
      await local.sync();
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  const latencies: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      // Each item arrives right after Local's last pull; a spread-out start measures an arbitrary moment instead.
      await new Promise((r) => setTimeout(r, ((i * 7919) % 1000) + 1));
      const id = `HANDOVER_${i}`;
      const started = performance.now();
      await writeFile(join(cloudDir, 'Needs_Action/email', `${id}.md`), emailItem(i));
      while (!existsSync(join(localDir, 'Pending_Approval/email', `${id}.md`))) {
        await new Promise((r) => setTimeout(r, 10));
      }
      latencies.push(performance.now() - started);
    }
  } finally {
    stop = true;
    await localLoop;
    await operator.stop();
  }
  return [
    {
      what: `handover: item in cloud clone → approval in local clone (p50 of ${samples}, 1 s intervals)`,
      result: ms(percentile(latencies, 50)),
      target: '≤ 1 s',
    },
    { what: 'same, p99', result: ms(percentile(latencies, 99)), target: '≤ 2 s' },
  ];
}

/**
 * Resident memory of an operator holding N tasks, measured in a fresh process: the vault's items sit in a
 * domain without a handler, so every task is mirrored and reconciled (status written) without git work.
 */
async function rssBench(root: string, items: number): Promise<Row[]> {
  progress(`rss: an operator process with ${items} tasks`);
  const dir = join(root, 'rss');
  await initVault(dir, { agent: 'cloud' });
  await writeItems(dir, 'files', items, 'FILE_');
  const child = spawn(process.execPath, ['--expose-gc', SELF, '--rss-child', dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((resolve) => child.on('close', resolve));
  const { rss, heapUsed, tasks } = JSON.parse(out) as { rss: number; heapUsed: number; tasks: number };
  return [
    {
      what: `operator resident memory with ${tasks} tasks`,
      result: `${(rss / 1e6).toFixed(0)} MB`,
      target: '≤ 200 MB',
    },
    { what: 'same, JS heap in use', result: `${(heapUsed / 1e6).toFixed(0)} MB` },
  ];
}

async function rssChild(dir: string): Promise<void> {
  const operator = new Operator({ vault: dir, agent: 'cloud', drafter: new TemplateDrafter(), logger });
  const report = await operator.runOnce();
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  process.stdout.write(JSON.stringify({ rss, heapUsed, tasks: report.tasks }));
}

export async function benchOperator(
  options: { items?: number; reconcileItems?: number; handoverSamples?: number } = {},
): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'fte-bench-operator-'));
  try {
    const items = options.items ?? 10_000;
    const rows = [
      ...(await mirrorBench(root, items)),
      ...(await reconcileBench(root, options.reconcileItems ?? 500)),
      ...(await handoverBench(root, options.handoverSamples ?? 10)),
      ...(await rssBench(root, items)),
    ];
    printTable('operator: mirror, reconcile, handover, memory', rows);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === SELF) {
  if (process.argv[2] === '--rss-child') {
    await rssChild(process.argv[3]!);
  } else {
    await benchOperator({
      items: Number(process.env.FTE_BENCH_ITEMS ?? 10_000),
      reconcileItems: Number(process.env.FTE_BENCH_RECONCILE_ITEMS ?? 500),
    });
  }
}
