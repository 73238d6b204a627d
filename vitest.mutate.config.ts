import { defineConfig } from 'vitest/config';
import { selectedGroups } from './mutation-groups.mjs';

/**
 * The tests Stryker runs against each mutant (stryker.config.mjs, `make mutate`): only fast files that run
 * the mutated modules in-process, against real git repos and temp folders. The heavy suites (kube-apiserver,
 * Chromium, Dovecot, the CLI through dist/) never run here: a mutant in the TypeScript source does not reach
 * dist/ anyway, and one of them takes longer than this whole list.
 */
export default defineConfig({
  test: {
    include: [...new Set(selectedGroups().flatMap((g) => g.tests))],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
