import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Suites that start a heavy server (a kube-apiserver and etcd, a whole Kubernetes node, Chromium, Dovecot
 * and Postfix, an image build) or, like the kill test, fork git and fte by the dozen. Two of them at once
 * on a two-core machine starve each other's timeouts, so they never run beside each other: the `servers`
 * project runs one file at a time. Everything else is the `rest` project.
 *
 * - `npx vitest run` runs `rest` on two workers, then `servers` one file at a time (groupOrder).
 * - `make test` (scripts/test-lanes.sh) runs both at once, one worker each: at most one `servers` file
 *   and one other file at any moment, two cores' worth, about as fast as two workers on everything.
 * - `npx vitest run tests/x/y.test.ts` runs that file in its project, as before.
 */
export const SERVER_SUITES = [
  'tests/cluster/**/*.test.ts',
  'tests/kube/**/*.test.ts',
  'tests/chart/cluster.test.ts',
  'tests/harness/kube.smoke.test.ts',
  'tests/image/image.test.ts',
  'tests/page/browser.test.ts',
  'tests/page/api.test.ts',
  'tests/mail/bad-mail.test.ts',
  'tests/mail/imap-watcher.test.ts',
  'tests/mail/platinum.test.ts',
  'tests/mail/sent-copy.test.ts',
  'tests/mail/threads.test.ts',
  'tests/oauth/mail-oauth.test.ts',
  'tests/executor/sent-copy.test.ts',
  'tests/e2e/kill.test.ts',
  // Not server suites, but long ones (2 min each under load): here they even out the two lanes of
  // `make test`, whose wall time is the longer lane's.
  'tests/core/hostile-git.test.ts',
  'tests/core/yielding.test.ts',
];

/** Workers of the `rest` project: 2, or 1 when it shares the machine with the `servers` lane. */
const restWorkers = process.env.FTE_REST_WORKERS === '1' ? 1 : 2;

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'rest',
          include: ['tests/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...SERVER_SUITES],
          maxWorkers: restWorkers,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'servers',
          include: SERVER_SUITES,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
