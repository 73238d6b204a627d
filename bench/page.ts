import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { stringifyMarkdown } from '../core/frontmatter.js';
import { initVault } from '../core/init.js';
import { VaultRepo } from '../core/vault-repo.js';
import { loadApprovalKey } from '../executor/key.js';
import { DEFAULT_ASSETS_DIR } from '../executor/ui/server.js';
import { launchChromium } from '../tests/harness/browser.js';
import { draftFiles } from './executor.js';
import { ms, percentile, printTable, progress, type Row } from './report.js';

/**
 * The status page (DESIGN.md §6), in Debian's Chromium against `fte executor` (a child process) on a vault
 * with 1 000 tasks, 200 of them pending approvals: load → all 200 approvals listed; a new approval request
 * written into the clone → its row in an open page (file watch → SSE → fetch → DOM); the JavaScript the
 * browser downloads, gzipped.
 */
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const APPROVALS = 200;
const DONE = 800;
const LOADS = 10;
const CHANGES = 30;

async function javascriptGzipBytes(): Promise<number> {
  const dir = join(DEFAULT_ASSETS_DIR, 'assets');
  let total = 0;
  for (const file of await readdir(dir)) {
    if (file.endsWith('.js')) total += gzipSync(await readFile(join(dir, file)), { level: 9 }).length;
  }
  return total;
}

async function vaultWithWork(root: string): Promise<string> {
  const dir = join(root, 'local');
  await initVault(dir, { agent: 'local' });
  await mkdir(join(dir, 'In_Progress', 'cloud'), { recursive: true });
  await mkdir(join(dir, 'Pending_Approval', 'email'), { recursive: true });
  for (let i = 0; i < APPROVALS; i++) {
    for (const [path, text] of draftFiles(`EMAIL_${String(i).padStart(4, '0')}`)) {
      await writeFile(join(dir, path), text);
    }
  }
  for (let i = 0; i < DONE; i++) {
    await writeFile(
      join(dir, 'Done', `EMAIL_D${String(i).padStart(4, '0')}.item.md`),
      stringifyMarkdown({
        data: { type: 'email', subject: `Old thread ${i}`, status: 'done' },
        body: 'Hi\n',
      }),
    );
  }
  await new VaultRepo({ root: dir, agent: 'local' }).commit('bench: 1 000 tasks');
  return dir;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'fte-bench-page-'));
  progress(`page: a vault with ${APPROVALS} pending approvals and ${DONE} finished tasks`);
  const vault = await vaultWithWork(root);
  const keyFile = join(root, 'config', 'approval.key');
  await loadApprovalKey(keyFile, vault);
  const daemon = spawn(process.execPath, [CLI, 'executor', '--vault', vault, '--ui-port', '0'], {
    env: {
      ...process.env,
      FTE_APPROVAL_KEY_FILE: keyFile,
      FTE_STATE_DIR: join(root, 'state'),
      FTE_EXECUTOR_CONFIG: join(root, 'config', 'executor.json'),
      FTE_LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    daemon.stdout?.on('data', (d) => {
      out += d;
      const match = /^status page: (\S+)$/m.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    daemon.on('exit', (code) => reject(new Error(`fte executor exited (${code}) before serving the page`)));
  });
  const browser = await launchChromium();
  const rows: Row[] = [];
  const lastRow = `[data-testid^="approval-row-"] >> nth=${APPROVALS - 1}`;
  try {
    progress(`page: ${LOADS} loads of the approvals view`);
    const loads: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const start = performance.now();
      await page.goto(`${url}#/approvals`);
      await page.locator(lastRow).waitFor();
      loads.push(performance.now() - start);
      await context.close();
    }
    rows.push({
      what: `load → ${APPROVALS} approvals listed (${APPROVALS + DONE} tasks), p50 of ${LOADS}`,
      result: ms(percentile(loads, 50)),
      target: '≤ 1 s',
    });

    progress(`page: ${CHANGES} vault changes seen by an open page`);
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${url}#/approvals`);
    await page.locator(lastRow).waitFor();
    const changes: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const [, [path, text]] = draftFiles(`EMAIL_NEW${String(i).padStart(3, '0')}`) as [
        unknown,
        [string, string],
      ];
      await new Promise((r) => setTimeout(r, 200));
      const start = performance.now();
      await writeFile(join(vault, path), text);
      await page.getByTestId(`approval-row-EMAIL_NEW${String(i).padStart(3, '0')}`).waitFor();
      changes.push(performance.now() - start);
    }
    rows.push({
      what: `vault change → DOM over SSE, p50 of ${CHANGES}`,
      result: ms(percentile(changes, 50)),
      target: '≤ 1 s',
    });
    rows.push({
      what: `vault change → DOM over SSE, p99 of ${CHANGES}`,
      result: ms(percentile(changes, 99)),
    });
    const gz = await javascriptGzipBytes();
    rows.push({ what: 'JavaScript, gzipped', result: `${(gz / 1024).toFixed(1)} KB`, target: '≤ 150 KB' });
  } finally {
    await browser.close();
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    await rm(root, { recursive: true, force: true });
  }
  printTable('status page', rows);
}

await main();
