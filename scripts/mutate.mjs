// `make mutate`: one Stryker run per group of mutation-groups.mjs (each with its own tests, incremental file
// and reports), then the per-module summary of them all. Usage: node scripts/mutate.mjs [group ...]
// FTE_MUTATE_CONCURRENCY=N (`make mutate CONCURRENCY=1`) runs N test runners instead of the config's 2.
import { spawnSync } from 'node:child_process';
import { MUTATION_GROUPS } from '../mutation-groups.mjs';

const names = process.argv.slice(2);
for (const name of names) {
  if (!MUTATION_GROUPS[name]) {
    console.error(`mutate: no group ${name} (one of ${Object.keys(MUTATION_GROUPS).join(', ')})`);
    process.exit(2);
  }
}
const concurrency = process.env.FTE_MUTATE_CONCURRENCY ?? '';
if (concurrency !== '' && !/^[1-9][0-9]*$/.test(concurrency)) {
  console.error(`mutate: FTE_MUTATE_CONCURRENCY must be a positive whole number, not ${JSON.stringify(concurrency)}`);
  process.exit(2);
}
const strykerArgs = ['stryker', 'run', 'stryker.config.mjs', ...(concurrency ? ['--concurrency', concurrency] : [])];
const groups = names.length > 0 ? names : Object.keys(MUTATION_GROUPS);
for (const [index, name] of groups.entries()) {
  const started = Date.now();
  console.log(`mutate: group ${name} (${index + 1} of ${groups.length}): ${MUTATION_GROUPS[name].mutate.join(', ')}`);
  const run = spawnSync('npx', strykerArgs, {
    stdio: 'inherit',
    env: { ...process.env, FTE_MUTATE_GROUP: name },
  });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  if (run.status !== 0) {
    console.error(`mutate: Stryker failed on group ${name} after ${minutes} min (exit ${run.status ?? run.signal})`);
    process.exit(1);
  }
  console.log(`mutate: group ${name} done in ${minutes} min`);
}
const summary = spawnSync('node', ['scripts/mutation-summary.mjs'], { stdio: 'inherit' });
process.exit(summary.status ?? 1);
