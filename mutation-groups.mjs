/**
 * What `make mutate` mutates, in groups, each with the fast in-process test files that exercise it
 * (docs/mutation.md). A group runs as its own Stryker run (scripts/mutate.mjs sets FTE_MUTATE_GROUP; both
 * stryker.config.mjs and vitest.mutate.config.ts read it), so a mutant that runs while a module loads (a
 * *static* mutant, which runs every test in the list) runs only its own group's tests, and each group keeps
 * its own incremental file. Line ranges (`file:from-to`) pick the rules inside a large module; keep them on
 * the named functions when the file changes.
 */
export const MUTATION_GROUPS = {
  // The vault boundary's file layer: every read and write of vault content, the VaultChange schema.
  'vault-files': {
    mutate: ['core/vault/safe-fs.ts', 'core/vault/change.ts', 'core/vault/read-cache.ts'],
    tests: [
      'tests/core/read-cache.test.ts',
      'tests/core/safe-fs.test.ts',
      'tests/core/vault-files.test.ts',
      'tests/core/vault-modules.test.ts',
      'tests/core/vault-read-cache.test.ts',
      'tests/core/vault-schema.test.ts',
    ],
  },
  // The VaultPort: preconditions, secret refusals, all-or-nothing; the loopback HTTP port.
  'vault-port': {
    mutate: ['core/vault/local-port.ts', 'core/vault/http-port.ts'],
    tests: [
      'tests/core/vault-change.test.ts',
      'tests/core/vault-http.test.ts',
      'tests/core/vault-modules.test.ts',
      'tests/core/vault-port.test.ts',
      'tests/core/vault-schema.test.ts',
    ],
  },
  // The rebase rule for yielding commits (YIELDING_COMMIT, replayOnRemote()), the claim (claimUnlocked(),
  // claimHeld(), undoClaim()) and the stale item copies a sync never commits.
  'vault-repo': {
    mutate: [
      'core/vault-repo.ts:100-100',
      'core/vault-repo.ts:787-825',
      'core/vault-repo.ts:896-980',
      'core/vault-repo.ts:987-997',
      'core/vault-repo.ts:1000-1015',
      'core/git/stale-copies.ts',
    ],
    tests: ['tests/core/stale-copies.test.ts', 'tests/core/yielding.test.ts'],
  },
  // A sync's uncommitted changes the remote also changed (git's conflicted --autostash): ours kept, never
  // conflict markers, never through a link. Its own group: every sync runs it, so the vault-repo group's
  // tests would all cover it.
  autostash: {
    mutate: ['core/git/autostash.ts'],
    tests: ['tests/core/autostash.test.ts'],
  },
  'secret-guard': {
    mutate: ['core/secret-guard.ts'],
    tests: ['tests/core/secret-guard.test.ts', 'tests/core/secret-names.test.ts'],
  },
  // Signature, ledger, decisions, the at-most-once wrapper, the action executors, the rate limits
  // (ratePerHour … paymentRateFromHandbook).
  executor: {
    mutate: [
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
    ],
    tests: [
      'tests/core/codec.test.ts',
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
    ],
  },
  // The operator's decide() and its refusal of send credentials.
  operator: {
    mutate: ['operator/decide.ts', 'operator/credentials.ts'],
    tests: ['tests/operator/credentials.test.ts', 'tests/operator/decide.test.ts'],
  },
};

/** The group FTE_MUTATE_GROUP names, or every group at once (a single ad-hoc run, `--mutate` narrows it). */
export function selectedGroups(name = process.env.FTE_MUTATE_GROUP) {
  if (!name) return Object.values(MUTATION_GROUPS);
  const group = MUTATION_GROUPS[name];
  if (!group) {
    throw new Error(
      `FTE_MUTATE_GROUP=${name} is no mutation group (one of ${Object.keys(MUTATION_GROUPS).join(', ')})`,
    );
  }
  return [group];
}
