import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `make bench`: every benchmark in its own process (so memory numbers are not mixed), one table each.
 * `node dist/bench/run.js core executor` runs only those.
 */
const ALL = [
  'core',
  'secret-guard',
  'vault-port',
  'operator',
  'executor',
  'page',
  'mail',
  'kube',
  'image',
  'cluster',
  'chart',
];
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ALL;
let failed = 0;
for (const name of chosen) {
  const script = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  if (!existsSync(script)) {
    process.stderr.write(`bench: no benchmark named ${name} (have: ${ALL.join(', ')})\n`);
    failed++;
    continue;
  }
  process.stderr.write(`bench: running ${name}\n`);
  const result = spawnSync(process.execPath, ['--expose-gc', script], { stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`bench: ${name} failed (exit ${result.status})\n`);
    failed++;
  }
}
process.exitCode = failed > 0 ? 1 : 0;
