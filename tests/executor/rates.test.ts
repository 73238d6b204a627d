import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PAYMENTS_PER_HOUR,
  DEFAULT_RATE_PER_HOUR,
  type ExecutorConfig,
  paymentRateFromHandbook,
  rateFromHandbook,
  ratePerHour,
} from '../../executor/config.js';

const base: ExecutorConfig = { from: 'o@example.com', dryRun: false, emailsPerHour: 4, owner: 'owner' };

describe('hourly limits', () => {
  it('send_email uses emailsPerHour; other actions their own limit, else 3 for payments and 10 for the rest', () => {
    expect(DEFAULT_PAYMENTS_PER_HOUR).toBe(3);
    expect(DEFAULT_RATE_PER_HOUR).toBe(10);
    expect(ratePerHour(base, 'send_email')).toBe(4);
    expect(ratePerHour({ ...base, ratesPerHour: { send_email: 99 } }, 'send_email')).toBe(4);
    expect(ratePerHour(base, 'register_payment')).toBe(3);
    expect(ratePerHour(base, 'post_invoice')).toBe(10);
    const set = { ...base, ratesPerHour: { register_payment: 1, post_invoice: 0 } };
    expect(ratePerHour(set, 'register_payment')).toBe(1);
    expect(ratePerHour(set, 'post_invoice')).toBe(0);
  });

  it("reads the handbook's email and payment limits in its wordings, and nothing else", () => {
    expect(rateFromHandbook('At most 5 emails per hour.')).toBe(5);
    expect(rateFromHandbook('at most\t12 e-mail an hour')).toBe(12);
    expect(rateFromHandbook('AT MOST 7 EMAILS EACH HOUR')).toBe(7);
    expect(rateFromHandbook('at most 8 mails every hour')).toBeUndefined();
    expect(rateFromHandbook('at most 5 payments per hour')).toBeUndefined();
    expect(rateFromHandbook('no limit here')).toBeUndefined();
    expect(paymentRateFromHandbook('- At most 2 payments per hour.')).toBe(2);
    expect(paymentRateFromHandbook('at most\t1 payment an hour')).toBe(1);
    expect(paymentRateFromHandbook('AT MOST 4 PAYMENTS EACH HOUR')).toBe(4);
    expect(paymentRateFromHandbook('at most 6 payments every hour')).toBe(6);
    expect(paymentRateFromHandbook('at most 5 emails per hour')).toBeUndefined();
    expect(paymentRateFromHandbook('at most two payments per hour')).toBeUndefined();
    expect(paymentRateFromHandbook('at most 3 payments per day')).toBeUndefined();
    // A rule wrapped over lines (Markdown with indentation): any run of white space between the words.
    expect(rateFromHandbook('- At most\n  10  emails\n  per  \n  hour.')).toBe(10);
    expect(paymentRateFromHandbook('- At most\n  12  payments\n  per\t\n  hour.')).toBe(12);
  });
});
