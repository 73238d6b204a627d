import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  OdooAccessError,
  OdooError,
  OdooMissingError,
  OdooServerError,
  OdooTimeoutError,
  OdooUserError,
  OdooValidationError,
} from '../../core/odoo/client.js';
import {
  beforeWrite,
  classifyOdoo,
  connectOdoo,
  duringWrite,
  formatAmount,
  many2one,
  money,
  odooParameters,
  odooUnavailable,
  sameAmount,
  text,
} from '../../executor/actions/odoo-common.js';
import { ActionFailure, InvalidActionError } from '../../executor/actions/types.js';
import { ODOO_SETTINGS_HINT } from '../../executor/odoo-config.js';
import { odooKeys, odooSettings, odooUsers } from '../odoo/keys.js';
import { startOdooServer } from '../odoo/server.js';
import { onCleanup } from './helpers.js';
import { accountingApproval } from './odoo-world.js';

/**
 * What post_invoice and register_payment share (executor/actions/odoo-common.ts), in-process: how an Odoo
 * failure maps onto at-most-once's meanings before and during the one write, how parameters are refused,
 * and the money helpers.
 */

const HINT = " — the Odoo user of ODOO_POST_API_KEY may not do this (is it the cloud's draft-only key?)";

/** Calls `f`, which must throw; what it threw. */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const failure = (f: ActionFailure) => ({ message: f.message, meaning: f.meaning, type: f.constructor.name });

describe('beforeWrite: a failure before the write changed nothing in Odoo', () => {
  it('passes an ActionFailure through as it is', () => {
    const earlier = new ActionFailure('vendor bill refused', 'failed');
    expect(beforeWrite(earlier)).toBe(earlier);
  });

  it.each([
    ['AccessError', new OdooAccessError('Access Denied'), `Access Denied${HINT}`],
    ['UserError', new OdooUserError('nothing left to pay'), 'nothing left to pay'],
    ['ValidationError', new OdooValidationError('constraint'), 'constraint'],
    ['MissingError', new OdooMissingError('Record does not exist'), 'Record does not exist'],
  ])("Odoo's refusal (%s) is failed for good, an access error with the key hint", (_name, error, message) => {
    expect(failure(beforeWrite(error))).toEqual({ message, meaning: 'failed', type: 'ActionFailure' });
  });

  it.each([
    ['a 5xx', new OdooServerError('HTTP 500'), 'HTTP 500'],
    ['a timeout', new OdooTimeoutError('no answer', { outcomeUnknown: true }), 'no answer'],
    ['any error', new TypeError('fetch failed'), 'fetch failed'],
    ['a thrown string', 'socket hang up', 'socket hang up'],
  ])('%s is not_sent: tried again on a later pass', (_name, error, what) => {
    expect(failure(beforeWrite(error))).toEqual({
      message: `Odoo could not be read, nothing was changed: ${what}`,
      meaning: 'not_sent',
      type: 'ActionFailure',
    });
  });
});

describe('duringWrite: a failure of the write itself', () => {
  it('passes an ActionFailure through as it is', () => {
    const earlier = new ActionFailure('x', 'not_sent');
    expect(duringWrite(earlier)).toBe(earlier);
  });

  it('an answer whose outcome is unknown is uncertain, whatever its kind', () => {
    expect(failure(duringWrite(new OdooServerError('HTTP 502', { outcomeUnknown: true })))).toEqual({
      message: 'HTTP 502',
      meaning: 'uncertain',
      type: 'ActionFailure',
    });
    expect(failure(duringWrite(new OdooAccessError('denied', { outcomeUnknown: true })))).toEqual({
      message: 'denied',
      meaning: 'uncertain',
      type: 'ActionFailure',
    });
  });

  it.each([
    ['AccessError', new OdooAccessError('not allowed to post'), `not allowed to post${HINT}`],
    ['UserError', new OdooUserError('already posted'), 'already posted'],
    ['ValidationError', new OdooValidationError('bad date'), 'bad date'],
    ['MissingError', new OdooMissingError('gone'), 'gone'],
    ['a not-retryable OdooError', new OdooError('odd', {}, { exitCode: 1, retryable: false }), 'odd'],
  ])("Odoo's own refusal (%s) is failed: Odoo rolled the write back", (_name, error, message) => {
    expect(failure(duringWrite(error))).toEqual({ message, meaning: 'failed', type: 'ActionFailure' });
  });

  it('a connection refused before anything was sent is not_sent', () => {
    expect(failure(duringWrite(new OdooServerError('cannot reach', { outcomeUnknown: false })))).toEqual({
      message: 'cannot reach (not sent)',
      meaning: 'not_sent',
      type: 'ActionFailure',
    });
  });

  it.each([
    ['a retryable error that does not say', new OdooServerError('HTTP 500', {}), 'HTTP 500'],
    ['a timeout that does not say', new OdooTimeoutError('slow', {}), 'slow'],
    ['any other error', new TypeError('fetch failed'), 'fetch failed'],
    ['a thrown string', 'socket hang up', 'socket hang up'],
  ])('%s may have reached Odoo: uncertain', (_name, error, message) => {
    expect(failure(duringWrite(error))).toEqual({ message, meaning: 'uncertain', type: 'ActionFailure' });
  });
});

describe('classifyOdoo', () => {
  it("is an ActionFailure's meaning; anything else may have reached Odoo", () => {
    expect(classifyOdoo(new ActionFailure('a', 'not_sent'))).toBe('not_sent');
    expect(classifyOdoo(new ActionFailure('a', 'failed'))).toBe('failed');
    expect(classifyOdoo(new ActionFailure('a', 'uncertain'))).toBe('uncertain');
    expect(classifyOdoo(new OdooServerError('x', { outcomeUnknown: false }))).toBe('uncertain');
    expect(classifyOdoo(new OdooUserError('x'))).toBe('uncertain');
  });
});

describe('reaching Odoo', () => {
  it('without settings the actions are unavailable, with the hint; connecting is not_sent', async () => {
    expect(odooUnavailable({})).toBe(`no Odoo configured on this machine (${ODOO_SETTINGS_HINT})`);
    const error = await connectOdoo({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActionFailure);
    expect(failure(error as ActionFailure)).toEqual({
      message: `no Odoo configured (${ODOO_SETTINGS_HINT})`,
      meaning: 'not_sent',
      type: 'ActionFailure',
    });
  });

  it('with settings: available, and connects', async () => {
    const keys = odooKeys();
    const server = await startOdooServer({ users: odooUsers(keys) });
    onCleanup(() => server.close());
    const settings = odooSettings(server, keys, 'laptop', { readRetries: 0 });
    expect(odooUnavailable({ settings })).toBeUndefined();
    const client = await connectOdoo({ settings });
    expect(client.protocol).toBe('json2');
  });

  it('a server that is not there: not_sent, nothing was changed', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const error = (await connectOdoo({
      settings: {
        url: `http://127.0.0.1:${port}`,
        database: 'odoo',
        login: 'laptop',
        apiKey: 'lapnothere',
        protocol: 'auto',
        timeoutMs: 2_000,
        readRetries: 0,
      },
    }).catch((e: unknown) => e)) as ActionFailure;
    expect(error).toBeInstanceOf(ActionFailure);
    expect(error.meaning).toBe('not_sent');
    expect(error.message).toMatch(/^Odoo could not be read, nothing was changed: .*ECONNREFUSED/);
  });
});

describe('odooParameters', () => {
  const keys = new Set(['amount', 'memo']);
  const schema = z.object({ amount: money, memo: text.optional() });

  it('returns the parsed parameters', () => {
    const approval = accountingApproval('payment', 'T1', { amount: 12.345, memo: '  rent  ' });
    expect(odooParameters('payment', keys, schema, approval)).toEqual({ amount: 12.35, memo: 'rent' });
  });

  it('refuses parameters it does not show or understand, named in order', () => {
    const approval = accountingApproval('payment', 'T1', { amount: 1, zeta: 1, alpha: 2 });
    const error = thrown(() => odooParameters('payment', keys, schema, approval));
    expect(error).toBeInstanceOf(InvalidActionError);
    expect((error as Error).message).toBe(
      'parameters payment does not show or understand: alpha, zeta (refused rather than carried out)',
    );
  });

  it('refuses an ill-shaped parameter with its path and zod message', () => {
    const approval = accountingApproval('payment', 'T1', { amount: 1, memo: 'two\nlines' });
    const error = thrown(() => odooParameters('payment', keys, schema, approval));
    expect(error).toBeInstanceOf(InvalidActionError);
    expect((error as Error).message).toBe(
      'payment: memo: must not contain line breaks or control characters',
    );
  });

  it('a refusal of the whole object is named "parameters"', () => {
    const whole = schema.refine((p) => p.memo !== undefined, 'needs a memo');
    const approval = accountingApproval('payment', 'T1', { amount: 1 });
    expect(() => odooParameters('payment', keys, whole as unknown as typeof schema, approval)).toThrow(
      /^payment: parameters: needs a memo$/,
    );
  });
});

describe('money and text', () => {
  it('money keeps two decimals and refuses what is not a finite number', () => {
    expect(money.parse(1.239)).toBe(1.24);
    expect(money.parse(-7.001)).toBe(-7);
    expect(money.safeParse(Number.POSITIVE_INFINITY).success).toBe(false);
    expect(money.safeParse('12.00').success).toBe(false);
  });

  it('text is trimmed, not empty, with no control character', () => {
    expect(text.parse('  Acme SA ')).toBe('Acme SA');
    expect(text.safeParse('   ').success).toBe(false);
    expect(text.safeParse('Acme\u0000SA').success).toBe(false);
    expect(text.safeParse('Acme\u007fSA').success).toBe(false);
    expect(text.safeParse('Acme\u001fSA').success).toBe(false);
    expect(text.safeParse(7).success).toBe(false);
  });

  it('sameAmount is closer than half a cent; formatAmount has two decimals and the currency', () => {
    expect(sameAmount(10, 10.004)).toBe(true);
    expect(sameAmount(10.004, 10)).toBe(true);
    expect(sameAmount(0, 0.005)).toBe(false);
    expect(sameAmount(0.005, 0)).toBe(false);
    expect(formatAmount(1200, 'EUR')).toBe('1200.00 EUR');
    expect(formatAmount(80.5, 'USD')).toBe('80.50 USD');
  });

  it("many2one: Odoo's [id, name], or undefined", () => {
    expect(many2one([7, 'Acme SA'])).toEqual({ id: 7, name: 'Acme SA' });
    expect(many2one([7])).toEqual({ id: 7, name: '' });
    expect(many2one([7, null])).toEqual({ id: 7, name: '' });
    expect(many2one(false)).toBeUndefined();
    expect(many2one(['7', 'Acme SA'])).toBeUndefined();
    expect(many2one({ 0: 7, 1: 'Acme SA' })).toBeUndefined();
  });
});
