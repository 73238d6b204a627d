/**
 * Writes crds/task.yaml and crds/vault.yaml from the zod schemas
 * (`node dist/operator/controller/kube/gen-crd.js [--check] [dir]`, dir defaulting to the repo's crds/).
 * With --check it writes nothing and exits 1 when a file differs from what the schemas give.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { taskCrdYaml } from './crd.js';
import { vaultCrdYaml } from './vault-crd.js';

const args = process.argv.slice(2);
const check = args.includes('--check');
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const dir = args.find((a) => !a.startsWith('--')) ?? join(repoRoot, 'crds');
const files: Array<[string, string]> = [
  ['task.yaml', taskCrdYaml()],
  ['vault.yaml', vaultCrdYaml()],
];

for (const [name, text] of files) {
  const target = join(dir, name);
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
}
