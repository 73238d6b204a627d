import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportFor } from '../../cli/errors.js';
import { ConfigError } from '../../core/config.js';
import { FteError } from '../../core/errors.js';
import { InvalidActionError } from '../../executor/actions/types.js';
import { DecisionError } from '../../executor/decisions.js';
import { InvalidEmailError } from '../../executor/email.js';
import { ApprovalKeyError } from '../../executor/key.js';
import { LockedError } from '../../executor/lock.js';
import { SetupError } from '../../executor/setup.js';
import { StateDirError } from '../../executor/state.js';
import { runCli, smtpEnv, world } from './helpers.js';

describe('errors of the local executive', () => {
  it('are FteErrors with their exit codes, reported as one line by cli/errors.ts', () => {
    const cases: Array<[Error, number]> = [
      [new SetupError('not a task id: "x y"'), 2],
      [new DecisionError('no approval request E in Pending_Approval/ or Approved/', 'not_found'), 4],
      [new DecisionError('E expired at …', 'refused'), 1],
      [new DecisionError('E is executed; it can no longer be rejected', 'conflict'), 1],
      [new LockedError('another executor (pid 1) already runs on this vault; stop it first'), 1],
      [new InvalidActionError('parameters send_email does not show or understand: reply_to'), 65],
      [new InvalidEmailError('not an email address in to: "x"'), 65],
      [new ApprovalKeyError('the approval key k is readable by other users'), 78],
      [new StateDirError("the executor's state folder is inside the vault"), 78],
    ];
    for (const [error, exitCode] of cases) {
      expect(error).toBeInstanceOf(FteError);
      expect(reportFor(error, {})).toEqual({ line: error.message, exitCode, stack: undefined });
    }
    expect(new ApprovalKeyError('x')).toBeInstanceOf(ConfigError);
    expect(new StateDirError('x')).toBeInstanceOf(ConfigError);
    expect(new InvalidEmailError('x')).toBeInstanceOf(InvalidActionError);
    expect(new LockedError('x').retryable).toBe(true);
  });
});

describe('fte approve, reject, resolve and executor', () => {
  it("exit with the error's code and one line: 2 usage, 4 no such approval, 78 configuration", async () => {
    const w = await world();
    const env = smtpEnv(1, w.keyFile);
    const vault = ['--vault', w.local.dir];
    const runs: Array<[string[], NodeJS.ProcessEnv, number, RegExp]> = [
      [['approve', 'not an id', ...vault], env, 2, /^fte: not a task id: "not an id"$/],
      [['resolve', 'EMAIL_X', ...vault], env, 2, /^fte: say exactly one of --sent or --not-sent$/],
      [['approve', 'EMAIL_X', '--vault', w.root], env, 2, /is not a vault/],
      [['approve', 'EMAIL_X', ...vault], env, 4, /^fte: no approval request EMAIL_X in Pending_Approval/],
      [['reject', 'EMAIL_X', ...vault], env, 4, /^fte: no approval request EMAIL_X/],
      [['resolve', 'EMAIL_X', '--sent', ...vault], env, 4, /^fte: no approval EMAIL_X in Approved/],
      [['executor', '--once', ...vault], { ...env, SMTP_PORT: 'abc' }, 78, /^fte: SMTP_PORT: /],
      [
        ['approve', 'EMAIL_X', ...vault],
        { ...env, FTE_APPROVAL_KEY_FILE: join(w.local.dir, 'approval.key') },
        78,
        /^fte: the approval key .* is inside the vault/,
      ],
      [
        ['executor', '--once', ...vault],
        { ...env, FTE_STATE_DIR: join(w.local.dir, 'state') },
        78,
        /^fte: the executor's state folder .* is inside the vault/,
      ],
    ];
    for (const [args, runEnv, code, message] of runs) {
      const run = await runCli(args, runEnv);
      expect({ args, code: run.code }).toEqual({ args, code });
      expect(run.stderr.trim()).toMatch(message);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
