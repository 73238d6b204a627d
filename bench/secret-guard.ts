import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSecretGuard, inspectFile } from '../core/secret-guard.js';
import { ms, percentile, printTable, progress, type Row, timed } from './report.js';

/** Mail-like prose with links, Message-IDs and hashes: the text the heuristics have to look at. */
function prose(bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line =
      i % 10 === 0
        ? `Read more: https://click.example.com/t/${randomBytes(30).toString('base64url')} <msg${i}@mail.example.com>`
        : `Line ${i}: the quarterly numbers look fine, content_sha256: ${randomBytes(32).toString('hex')} ok.`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`.slice(0, bytes);
}

/** Plain prose: nothing for the heuristics to weigh. */
function plain(bytes: number): string {
  const line = 'The quarterly report is attached; please review the numbers before Friday and reply here.\n';
  return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
}

async function bigFile(
  root: string,
  kind: 'mail-like: a hash or a link on every line' | 'plain prose',
  megabytes: number,
  runs: number,
): Promise<Row[]> {
  progress(`secret guard: scanning a ${megabytes} MB file (${kind}) ${runs} times`);
  const path = join(root, 'big.md');
  const bytes = megabytes * 1024 * 1024;
  await writeFile(path, kind === 'plain prose' ? plain(bytes) : prose(bytes));
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [finding, elapsed] = await timed(() => inspectFile(path, 'big.md'));
    if (finding) throw new Error(`bench file refused: ${finding.reason}`);
    samples.push(elapsed);
  }
  const p50 = percentile(samples, 50);
  return [
    { what: `scan a ${megabytes} MB note, ${kind} (p50 of ${runs})`, result: ms(p50) },
    { what: 'throughput', result: `${((megabytes * 1000) / p50).toFixed(1)} MB/s` },
  ];
}

async function smallFiles(root: string, count: number): Promise<Row[]> {
  progress(`secret guard: ${count} small vault files`);
  const dir = join(root, 'Needs_Action', 'email');
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const rel = `Needs_Action/email/EMAIL_${String(i).padStart(5, '0')}.md`;
    const text = `---\ntype: email\nsubject: item ${i}\nmessage_id: <CAF${randomBytes(30).toString('base64url')}@mail.gmail.com>\n---\n\n${prose(2000)}`;
    await writeFile(join(root, rel), text);
    paths.push(rel);
  }
  const guard = createSecretGuard({ knownSecrets: [randomBytes(32)] });
  const inspectAll = async () => {
    for (const rel of paths) await guard.inspectFile(join(root, rel), rel);
  };
  await inspectAll(); // warm up (module load, JIT)
  const [, elapsed] = await timed(inspectAll);
  return [
    { what: `${count} small vault files (~2 KB), one after another`, result: ms(elapsed) },
    { what: 'per file', result: ms(elapsed / count) },
  ];
}

export async function benchSecretGuard(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'fte-bench-guard-'));
  try {
    const rows = [
      ...(await bigFile(root, 'plain prose', 10, 5)),
      ...(await bigFile(root, 'mail-like: a hash or a link on every line', 10, 5)),
      ...(await smallFiles(root, 1000)),
    ];
    printTable('secret guard (secretlint preset + fte rules + 1 known secret)', rows);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await benchSecretGuard();
