/**
 * Writes crds/task.yaml from the zod schemas (`node dist/operator/controller/kube/gen-crd.js [--check] [path]`).
 * With --check it writes nothing and exits 1 when the file differs from what the schemas give.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { taskCrdYaml } from './crd.js';

const args = process.argv.slice(2);
const check = args.includes('--check');
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const target = args.find((a) => !a.startsWith('--')) ?? join(repoRoot, 'crds', 'task.yaml');
const text = taskCrdYaml();

if (check) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== text) {
    process.stderr.write(
      `${target} is stale: regenerate it with node dist/operator/controller/kube/gen-crd.js\n`,
    );
    process.exitCode = 1;
  }
} else {
  await writeFile(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
