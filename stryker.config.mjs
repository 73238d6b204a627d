import { selectedGroups } from './mutation-groups.mjs';

/** A group's run keeps its own incremental file and reports (scripts/mutate.mjs runs each group). */
const suffix = process.env.FTE_MUTATE_GROUP ? `-${process.env.FTE_MUTATE_GROUP}` : '';

/**
 * Mutation testing of the safety-critical modules (`make mutate`, docs/mutation.md): what is mutated, and
 * with which tests, is in mutation-groups.mjs. Incremental: the next run re-tests only mutants whose code or
 * covering tests changed.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  coverageAnalysis: 'perTest',
  mutate: [...new Set(selectedGroups().flatMap((g) => g.mutate))],
  incremental: true,
  incrementalFile: `reports/stryker-incremental${suffix}.json`,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/mutation${suffix}.html` },
  jsonReporter: { fileName: `reports/mutation/mutation${suffix}.json` },
  clearTextReporter: { allowColor: false, logTests: false },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['dist', 'reports', 'coverage', 'bench', 'charts', 'dashboard', '.stryker-tmp'],
  concurrency: 2,
  timeoutMS: 60_000,
  timeoutFactor: 2,
  thresholds: { high: 90, low: 85, break: null },
};
