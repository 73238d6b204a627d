import { expect } from 'vitest';
import { ActionFailure } from '../../executor/actions/types.js';
import { type OutgoingEmail, SmtpTransport } from '../../executor/email.js';
import type { SentCopy, SentCopyResult } from '../../executor/sent-copy.js';
import { onCleanup, type SmtpOptions, smtpServer } from './helpers.js';

/** Helpers of the in-process action executor tests (tests/executor/action-*.test.ts). */

export const OWNER_FROM = 'Owner <owner@example.com>';

/** The ActionFailure `promise` rejected with, as {message, meaning}; fails the test on anything else. */
export async function actionFailure(
  promise: Promise<unknown>,
): Promise<{ message: string; meaning: string }> {
  const error = await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ActionFailure);
  const f = error as ActionFailure;
  return { message: f.message, meaning: f.meaning };
}

/** A SentCopy that keeps what it is asked to file (the IMAP one is tested against Dovecot). */
export function recordingSentCopy(): SentCopy & { filed: Array<{ mail: OutgoingEmail; at: Date }> } {
  const filed: Array<{ mail: OutgoingEmail; at: Date }> = [];
  return {
    filed,
    async file(mail, at): Promise<SentCopyResult> {
      filed.push({ mail, at });
      return { kind: 'appended', mailbox: 'Sent' };
    },
  };
}

/** A real SMTP server on loopback and a transport to it, closed after the test. */
export async function smtpTransport(options: SmtpOptions = {}) {
  const smtp = await smtpServer(options);
  const transport = new SmtpTransport({
    host: '127.0.0.1',
    port: smtp.port,
    secure: false,
    from: OWNER_FROM,
  });
  onCleanup(async () => transport.close());
  return { smtp, transport };
}
