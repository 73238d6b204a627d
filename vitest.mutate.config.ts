import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs against each mutant (stryker.config.mjs, `make mutate`): only fast files that run
 * the mutated modules in-process, against real git repos and temp folders. The heavy suites (kube-apiserver,
 * Chromium, Dovecot, the CLI through dist/) never run here: a mutant in the TypeScript source does not reach
 * dist/ anyway, and one of them takes longer than this whole list.
 */
export default defineConfig({
  test: {
    include: [
      'tests/core/codec.test.ts',
      'tests/core/read-cache.test.ts',
      'tests/core/safe-fs.test.ts',
      'tests/core/secret-guard.test.ts',
      'tests/core/secret-names.test.ts',
      'tests/core/stale-copies.test.ts',
      'tests/core/vault-change.test.ts',
      'tests/core/vault-files.test.ts',
      'tests/core/vault-http.test.ts',
      'tests/core/vault-modules.test.ts',
      'tests/core/vault-port.test.ts',
      'tests/core/vault-read-cache.test.ts',
      'tests/core/vault-schema.test.ts',
      'tests/core/yielding.test.ts',
      'tests/executor/action-odoo-common.test.ts',
      'tests/executor/action-post-invoice.test.ts',
      'tests/executor/action-register-payment.test.ts',
      'tests/executor/action-send-email.test.ts',
      'tests/executor/at-most-once-records.test.ts',
      'tests/executor/at-most-once.test.ts',
      'tests/executor/decisions.test.ts',
      'tests/executor/ledger.test.ts',
      'tests/executor/post-invoice-email.test.ts',
      'tests/executor/rates.test.ts',
      'tests/executor/signature.test.ts',
      'tests/operator/credentials.test.ts',
      'tests/operator/decide.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
