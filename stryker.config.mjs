/**
 * Mutation testing of the safety-critical modules (`make mutate`, docs/mutation.md). Incremental: the
 * second run re-tests only mutants whose code or covering tests changed (reports/stryker-incremental.json).
 * Line ranges (`file:from-to`) pick the rules inside a large module; keep them on the named functions when
 * the file changes (docs/mutation.md lists them).
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  coverageAnalysis: 'perTest',
  mutate: [
    // The vault boundary: the rebase rule for yielding commits (YIELDING_COMMIT, rebase(), claimUnlocked(),
    // claimHeld(), undoClaim()) and the stale item copies a sync never commits.
    'core/vault-repo.ts:99-99',
    'core/vault-repo.ts:767-805',
    'core/vault-repo.ts:891-975',
    'core/vault-repo.ts:982-992',
    'core/vault-repo.ts:995-1010',
    'core/git/stale-copies.ts',
    'core/secret-guard.ts',
    // The vault boundary's file layer and VaultPort: every read/write of vault content, the change's
    // preconditions and secret refusals, and the loopback HTTP port.
    'core/vault/safe-fs.ts',
    'core/vault/local-port.ts',
    'core/vault/change.ts',
    'core/vault/read-cache.ts',
    'core/vault/http-port.ts',
    // The executor.
    'executor/ledger.ts',
    'executor/actions/at-most-once.ts',
    'executor/actions/odoo-common.ts',
    'executor/actions/register-payment.ts',
    'executor/actions/send-email.ts',
    'executor/actions/post-invoice.ts',
    'executor/signature.ts',
    'executor/decisions.ts',
    'executor/config.ts:151-165',
    'executor/config.ts:172-175',
    // The operator.
    'operator/decide.ts',
    'operator/credentials.ts',
  ],
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['dist', 'reports', 'coverage', 'bench', 'charts', 'dashboard', '.stryker-tmp'],
  concurrency: 2,
  timeoutMS: 60_000,
  timeoutFactor: 2,
  thresholds: { high: 90, low: 85, break: null },
};
