import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OdooClient, type OdooSettings } from '../../core/odoo/client.js';
import { POST_INVOICE_PARAMETERS, PostInvoiceExecutor } from '../../executor/actions/post-invoice.js';
import { ActionFailure, InvalidActionError } from '../../executor/actions/types.js';
import { type SmtpTransport, stableMessageId } from '../../executor/email.js';
import { ODOO_SETTINGS_HINT } from '../../executor/odoo-config.js';
import type { SentCopy } from '../../executor/sent-copy.js';
import { odooKeys, odooSettings, odooUsers } from '../odoo/keys.js';
import { type OdooTestServer, startOdooServer } from '../odoo/server.js';
import { actionFailure, OWNER_FROM, recordingSentCopy, smtpTransport } from './action-helpers.js';
import { accountingApproval, rewriteAnswers } from './odoo-world.js';

/**
 * post_invoice's executor in-process (executor/actions/post-invoice.ts) against the test Odoo server over
 * HTTP and a real SMTP server on loopback: what the owner is shown, the comparison of Odoo's invoice with
 * what was approved, the post (once), the reply with the invoice PDF, and what each failure means.
 */

const KEYS = odooKeys();
let server: OdooTestServer;

beforeAll(async () => {
  server = await startOdooServer({ users: odooUsers(KEYS), today: () => '2026-03-15' });
});
afterAll(async () => {
  await server?.close();
});

const laptop = (o: Partial<OdooSettings> = {}) =>
  odooSettings(server, KEYS, 'laptop', { readRetries: 0, timeoutMs: 3_000, ...o });
const cloudOdoo = () => OdooClient.connect(odooSettings(server, KEYS, 'cloud'));

type Line = { name: string; quantity: number; price_unit: number };
const LINES: Line[] = [
  { name: 'Consulting, October', quantity: 10, price_unit: 120 },
  { name: 'Travel', quantity: 1, price_unit: 80.5 },
];

/** What the cloud does with its key: a partner and a draft invoice in Odoo. */
async function draft(o: { partner?: string; lines?: Line[]; moveType?: string; currency?: number } = {}) {
  const odoo = await cloudOdoo();
  const partner = o.partner ?? 'Acme SA';
  const partnerId = await odoo.create('res.partner', { name: partner });
  const id = await odoo.create('account.move', {
    move_type: o.moveType ?? 'out_invoice',
    partner_id: partnerId,
    ...(o.currency ? { currency_id: o.currency } : {}),
    invoice_line_ids: (o.lines ?? LINES).map((l) => [0, 0, l]),
  });
  return { id, partnerId };
}

let tasks = 0;
const invoice = (
  inv: { id: number; partnerId: number },
  extra: Record<string, unknown> = {},
  body = 'Dear Acme,\n\nPlease find our invoice attached.\n',
) =>
  accountingApproval(
    'post_invoice',
    `INV_${++tasks}`,
    {
      odoo_id: inv.id,
      move_type: 'out_invoice',
      partner: 'Acme SA',
      partner_id: inv.partnerId,
      invoice_lines: LINES,
      amount_total: 1280.5,
      currency: 'EUR',
      ...extra,
    },
    body,
  );

const executor = (
  o: { settings?: OdooSettings; transport?: SmtpTransport; sentCopy?: SentCopy; fetch?: typeof fetch } = {},
) =>
  new PostInvoiceExecutor(
    {
      settings: 'settings' in o ? o.settings : laptop(),
      clientOptions: o.fetch ? { fetch: o.fetch } : undefined,
    },
    { from: OWNER_FROM, transport: o.transport, sentCopy: o.sentCopy },
  );

const stateOf = async (id: number) => {
  const [move] = await (await cloudOdoo()).read('account.move', [id], ['state', 'name']);
  return { state: move!.state, name: move!.name };
};
const calls = (method: string) => server.calls.filter((c) => c.method === method).length;

const sameAnswer = (message: string, meaning: string) => ({ message, meaning });

describe('post_invoice: what the owner is shown', () => {
  const ex = new PostInvoiceExecutor({});

  it('names the action, its audit type and the parameters it understands', () => {
    expect(ex.action).toBe('post_invoice');
    expect(ex.auditType).toBe('invoice_post');
    expect(ex.parameters).toBe(POST_INVOICE_PARAMETERS);
    expect([...POST_INVOICE_PARAMETERS].sort()).toEqual([
      'amount_total',
      'currency',
      'email_in_reply_to',
      'email_references',
      'email_subject',
      'email_to',
      'invoice_lines',
      'move_type',
      'odoo_id',
      'partner',
      'partner_id',
    ]);
  });

  it('the invoice, the partner, every line with its amount, the total and the effect; no email', () => {
    const prepared = ex.prepare(invoice({ id: 12, partnerId: 7 }));
    expect(prepared.effect).toEqual([
      ['post invoice in Odoo', 'account.move 12 (customer invoice, out_invoice)'],
      ['partner', 'Acme SA (res.partner 7)'],
      ['line 1', 'Consulting, October: 10 × 120.00 EUR = 1200.00 EUR'],
      ['line 2', 'Travel: 1 × 80.50 EUR = 80.50 EUR'],
      ['total', '1280.50 EUR'],
      ['effect', 'posts the invoice in Odoo: it gets its number and can no longer be edited'],
    ]);
    expect(prepared.notes).toEqual([]);
    expect(prepared.target).toBe('Acme SA (res.partner/7)');
    expect(prepared.counterparty).toBe('res.partner/7');
    expect(prepared.audit).toEqual({
      odoo_id: 12,
      partner_id: 7,
      amount_total: 1280.5,
      currency: 'EUR',
      lines: 2,
    });
    expect(prepared.payload.email).toBeUndefined();
    expect(prepared.effectId).toBeUndefined();
  });

  it('a total other than the lines (taxes) is noted; lines within half a cent are not', () => {
    expect(ex.prepare(invoice({ id: 12, partnerId: 7 }, { amount_total: 1549.41 })).notes).toEqual([
      "the lines add up to 1280.50 EUR, the total is 1549.41 EUR (taxes?); Odoo's total must equal the approved total",
    ]);
    const thirds = [{ name: 'Item', quantity: 3, price_unit: 0.1 }];
    expect(
      ex.prepare(invoice({ id: 12, partnerId: 7 }, { invoice_lines: thirds, amount_total: 0.3 })).notes,
    ).toEqual([]);
  });

  it('with email_to: the reply, its thread, the attachment and the body length follow', () => {
    const executorWithMail = new PostInvoiceExecutor({}, { from: OWNER_FROM });
    const body = 'Hello Acme,\n\nYour invoice.\n';
    const prepared = executorWithMail.prepare(
      invoice(
        { id: 12, partnerId: 7 },
        {
          email_to: 'billing@acme.example',
          email_subject: 'Re: October invoice',
          email_in_reply_to: '<oct@acme.example>',
          email_references: '<start@acme.example> <oct@acme.example>',
        },
        body,
      ),
    );
    const messageId = stableMessageId(`INV_${tasks}`, OWNER_FROM);
    expect(prepared.effect.slice(6)).toEqual([
      ['then send email from', OWNER_FROM],
      ['to', 'billing@acme.example'],
      ['subject', 'Re: October invoice'],
      ['in reply to', '<oct@acme.example>'],
      ['references', '<start@acme.example> <oct@acme.example>'],
      ['message id', messageId],
      ['attachment', "the posted invoice's PDF as Odoo renders it (<number>.pdf)"],
      ['body', `${body.length} characters (the draft, exactly as approved)`],
    ]);
    expect(prepared.target).toBe('Acme SA (res.partner/7); email to billing@acme.example');
    expect(prepared.audit).toEqual({
      odoo_id: 12,
      partner_id: 7,
      amount_total: 1280.5,
      currency: 'EUR',
      lines: 2,
      email_to: 'billing@acme.example',
      message_id: messageId,
    });
    expect(prepared.payload.email).toMatchObject({ to: 'billing@acme.example', text: body, messageId });
    expect(prepared.notes).toEqual([]);

    const plain = executorWithMail.prepare(
      invoice({ id: 12, partnerId: 7 }, { email_to: 'billing@acme.example' }),
    );
    expect(plain.effect.slice(6).map(([label]) => label)).toEqual([
      'then send email from',
      'to',
      'subject',
      'message id',
      'attachment',
      'body',
    ]);
  });

  it("a reply id that is not a Message-ID is dropped and noted, after the lines' note", () => {
    const a = invoice({ id: 12, partnerId: 7 }, { email_to: 'billing@acme.example', amount_total: 1549.41 });
    const bad = { ...a, data: { ...a.data, email_in_reply_to: 'not-an-id' } } as typeof a;
    // An executor built without mail settings shows an empty sender (it cannot send: perform refuses).
    expect(Object.fromEntries(ex.prepare(bad).effect)['then send email from']).toBe('');
    expect(ex.prepare(bad).notes).toEqual([
      "the lines add up to 1280.50 EUR, the total is 1549.41 EUR (taxes?); Odoo's total must equal the approved total",
      'in_reply_to "not-an-id" is not an RFC 5322 Message-ID; sent without In-Reply-To',
    ]);
  });

  it.each([
    [{ move_type: 'in_invoice' }, /^post_invoice: move_type: /],
    [{ invoice_lines: [] }, 'post_invoice: invoice_lines: an invoice needs at least one line'],
    [
      { invoice_lines: [{ name: 'Item', quantity: 1, price_unit: 5, tax_ids: [1] }] },
      /^post_invoice: invoice_lines\.0: /,
    ],
    [
      { invoice_lines: [{ name: ' ', quantity: 1, price_unit: 5 }] },
      /^post_invoice: invoice_lines\.0\.name: /,
    ],
    [{ amount_total: '1280.50' }, /^post_invoice: amount_total: /],
    [
      { partner: 'Acme\u0007SA' },
      'post_invoice: partner: must not contain line breaks or control characters',
    ],
    [
      { email_subject: 'Re: x' },
      'post_invoice: email_subject and the thread fields need email_to (who gets the invoice)',
    ],
    [{ email_in_reply_to: '<a@b.example>' }, /need email_to/],
    [{ email_references: '<a@b.example>' }, /need email_to/],
    [{ email_to: 'not an address' }, 'not an email address in to: "not an address"'],
    [{ email_cc: 'x@evil.example' }, /^parameters post_invoice does not show or understand: email_cc /],
  ])('refuses %o', (extra, reason) => {
    expect(() => ex.prepare(invoice({ id: 12, partnerId: 7 }, extra))).toThrow(InvalidActionError);
    expect(() => ex.prepare(invoice({ id: 12, partnerId: 7 }, extra))).toThrow(reason);
  });

  it('refuses an empty email', () => {
    expect(() =>
      ex.prepare(invoice({ id: 12, partnerId: 7 }, { email_to: 'a@acme.example' }, ' \n')),
    ).toThrow('post_invoice: the email to send with the invoice is empty');
  });

  it('is unavailable without Odoo settings, with the hint', () => {
    expect(ex.unavailable()).toBe(`no Odoo configured on this machine (${ODOO_SETTINGS_HINT})`);
    expect(executor().unavailable()).toBeUndefined();
  });
});

describe('post_invoice: posting', () => {
  it('posts the draft once; the number is the effect id; a second perform finds it posted', async () => {
    const inv = await draft();
    const prepared = executor().prepare(invoice(inv));
    const posted = await executor().perform(prepared);
    const { state, name } = await stateOf(inv.id);
    expect(state).toBe('posted');
    expect(name).toMatch(/^INV\/2026\/\d{5}$/);
    expect(posted).toEqual({
      detail: `posted in Odoo as ${name}`,
      audit: { odoo_id: inv.id, name, protocol: 'json2' },
      effectId: name,
    });
    const before = calls('action_post');
    expect(await executor().perform(prepared)).toEqual({
      detail: `already posted in Odoo as ${name}; not posted again`,
      audit: { odoo_id: inv.id, name, already_posted: true },
      effectId: name,
    });
    expect(calls('action_post')).toBe(before);
  });

  it('the number cannot be read back after the post: posted all the same, named by its id', async () => {
    const inv = await draft();
    // After the post, the next read of account.move gets a 5xx.
    const armed: typeof fetch = async (input, init) => {
      const answer = await fetch(input, init);
      if (String(input).endsWith('/json/2/account.move/action_post')) {
        server.inject({ kind: 'status500', model: 'account.move', method: 'read' });
      }
      return answer;
    };
    const { smtp: s, transport } = await smtpTransport();
    const ex = executor({ fetch: armed, transport });
    const posted = await ex.perform(ex.prepare(invoice(inv, { email_to: 'billing@acme.example' })));
    expect((await stateOf(inv.id)).state).toBe('posted');
    expect(posted.detail).toMatch(
      new RegExp(
        `^posted in Odoo as account\\.move ${inv.id}; emailed invoice-${inv.id}\\.pdf to billing@acme\\.example: 250 `,
      ),
    );
    expect(posted.audit).toMatchObject({ odoo_id: inv.id, name: null, attachment: `invoice-${inv.id}.pdf` });
    expect(posted.effectId).toBe(`account.move/${inv.id}`);
    expect(s.received[0]!.parsed.attachments.map((a) => a.filename)).toEqual([`invoice-${inv.id}.pdf`]);
  });

  it('refuses an invoice that is cancelled, or changed since the approval: failed, nothing posted', async () => {
    const cases: Array<[Awaited<ReturnType<typeof draft>>, Record<string, unknown>, string]> = [];
    const base = await draft();
    cases.push([base, { amount_total: 1300 }, 'its total is 1280.50 EUR, not 1300.00 EUR']);
    cases.push([base, { invoice_lines: LINES.slice(0, 1) }, 'it has 2 lines, not 1']);
    cases.push([
      base,
      { invoice_lines: [{ ...LINES[0]!, name: 'Consulting, November' }, LINES[1]] },
      'line 1 is "Consulting, October" 10 × 120, not "Consulting, November" 10 × 120',
    ]);
    cases.push([
      base,
      { invoice_lines: [LINES[0], { ...LINES[1]!, quantity: 2 }] },
      'line 2 is "Travel" 1 × 80.5, not "Travel" 2 × 80.5',
    ]);
    cases.push([
      base,
      { invoice_lines: [LINES[0], { ...LINES[1]!, price_unit: 80.51 }] },
      'line 2 is "Travel" 1 × 80.5, not "Travel" 1 × 80.51',
    ]);
    const other = await (await cloudOdoo()).create('res.partner', { name: 'Acme SA' });
    cases.push([
      base,
      { partner_id: other },
      `its partner is Acme SA (${base.partnerId}), not Acme SA (${other})`,
    ]);
    cases.push([
      base,
      { partner: 'Acme Holding' },
      `its partner is Acme SA (${base.partnerId}), not Acme Holding (${base.partnerId})`,
    ]);
    const empty = await draft({ lines: [] });
    cases.push([empty, { amount_total: 0 }, 'it has 0 lines, not 2']);
    const usd = await draft({ currency: 2 });
    cases.push([usd, {}, 'its currency is USD, not EUR']);
    const bill = await draft({ moveType: 'in_invoice' });
    cases.push([bill, {}, 'its type is in_invoice, not out_invoice']);
    for (const [inv, extra, what] of cases) {
      expect(await actionFailure(executor().perform(executor().prepare(invoice(inv, extra))))).toEqual(
        sameAnswer(
          `invoice account.move ${inv.id} changed in Odoo since you approved it (${what}); nothing was posted — ask for a new approval`,
          'failed',
        ),
      );
    }
    for (const inv of [base, usd, bill]) expect((await stateOf(inv.id)).state).toBe('draft');
    // The currency the approval names is the invoice's: posted.
    expect((await executor().perform(executor().prepare(invoice(usd, { currency: 'USD' })))).detail).toMatch(
      /^posted in Odoo as INV\//,
    );

    const cancelled = await draft();
    await (await cloudOdoo()).call('account.move', 'button_cancel', [cancelled.id]);
    expect(await actionFailure(executor().perform(executor().prepare(invoice(cancelled))))).toEqual(
      sameAnswer(
        `invoice account.move ${cancelled.id} is cancel in Odoo, not a draft; nothing was posted`,
        'failed',
      ),
    );
  });

  it('a partner name Odoo has with spaces around is the same name; an invoice Odoo does not have: MissingError', async () => {
    const spaced = await draft({ partner: '  Acme SA ' });
    expect((await executor().perform(executor().prepare(invoice(spaced)))).detail).toMatch(
      /^posted in Odoo as /,
    );
    const missing = await actionFailure(
      executor().perform(executor().prepare(invoice({ id: 999_999, partnerId: 7 }))),
    );
    expect(missing.meaning).toBe('failed');
    expect(missing.message).toMatch(/^Odoo account\.move\.read: Record does not exist/);
  });

  it('without Odoo settings: not_sent; with an email but no SMTP: not_sent before Odoo is asked', async () => {
    const prepared = executor().prepare(invoice({ id: 12, partnerId: 7 }));
    expect(await actionFailure(executor({ settings: undefined }).perform(prepared))).toEqual(
      sameAnswer(`no Odoo configured (${ODOO_SETTINGS_HINT})`, 'not_sent'),
    );
    const withMail = executor().prepare(
      invoice({ id: 12, partnerId: 7 }, { email_to: 'billing@acme.example' }),
    );
    const seen = server.calls.length;
    expect(await actionFailure(executor().perform(withMail))).toEqual(
      sameAnswer(
        'no SMTP server configured (set SMTP_HOST and SMTP_FROM): the invoice is posted only together with its email',
        'not_sent',
      ),
    );
    expect(server.calls.length).toBe(seen);
  });
});

describe('post_invoice: the lines in order', () => {
  it('compares the lines in the order they were created, whatever order Odoo lists them in', async () => {
    const inv = await draft();
    // Odoo lists an invoice's lines by their `sequence`: here, as if a person had dragged the last line up.
    const reordered: typeof fetch = async (input, init) => {
      const answer = await fetch(input, init);
      if (!String(input).endsWith('/json/2/account.move/read')) return answer;
      const rows = (await answer.json()) as Array<Record<string, unknown>>;
      const flipped = rows.map((r) =>
        Array.isArray(r.invoice_line_ids) ? { ...r, invoice_line_ids: [...r.invoice_line_ids].reverse() } : r,
      );
      return new Response(JSON.stringify(flipped), {
        status: answer.status,
        headers: { 'content-type': 'application/json' },
      });
    };
    const ex = executor({ fetch: reordered });
    expect((await ex.perform(ex.prepare(invoice(inv)))).detail).toMatch(/^posted in Odoo as INV\//);
  });
});

describe('post_invoice: what Odoo may hold', () => {
  it('a draft without a partner is refused: its partner is empty', async () => {
    const odoo = await cloudOdoo();
    const id = await odoo.create('account.move', {
      move_type: 'out_invoice',
      invoice_line_ids: LINES.map((l) => [0, 0, l]),
    });
    expect(
      await actionFailure(executor().perform(executor().prepare(invoice({ id, partnerId: 7 })))),
    ).toEqual(
      sameAnswer(
        `invoice account.move ${id} changed in Odoo since you approved it (its partner is empty, not Acme SA (7)); nothing was posted — ask for a new approval`,
        'failed',
      ),
    );
  });

  it('line labels Odoo keeps with spaces around are the approved labels', async () => {
    const inv = await draft({ lines: [LINES[0]!, { ...LINES[1]!, name: ' Travel  ' }] });
    expect((await executor().perform(executor().prepare(invoice(inv)))).detail).toMatch(
      /^posted in Odoo as INV\//,
    );
  });

  it("an invoice number with spaces and slashes (a journal's own sequence) gives a plain PDF file name", async () => {
    const inv = await draft();
    const { smtp: s, transport } = await smtpTransport();
    const customNumber = rewriteAnswers((call, result) =>
      call.model === 'account.move' && call.method === 'read' && Array.isArray(result)
        ? result.map((r: Record<string, unknown>) =>
            typeof r.name === 'string' && r.name.startsWith('INV/') ? { ...r, name: 'FAC 2026 / 0001' } : r,
          )
        : result,
    );
    const ex = executor({ transport, fetch: customNumber });
    const performed = await ex.perform(ex.prepare(invoice(inv, { email_to: 'billing@acme.example' })));
    expect(performed.audit).toMatchObject({ name: 'FAC 2026 / 0001', attachment: 'FAC_2026_0001.pdf' });
    expect(s.received[0]!.parsed.attachments.map((a) => a.filename)).toEqual(['FAC_2026_0001.pdf']);
  });
});

describe('post_invoice: what a failure of the post means', () => {
  it("the cloud's draft-only key: Odoo refuses the post (AccessError), failed with the hint", async () => {
    const inv = await draft();
    const ex = executor({ settings: odooSettings(server, KEYS, 'cloud', { readRetries: 0 }) });
    const refused = await actionFailure(ex.perform(ex.prepare(invoice(inv))));
    expect(refused.meaning).toBe('failed');
    expect(refused.message).toMatch(/may not do this \(is it the cloud's draft-only key\?\)$/);
    expect((await stateOf(inv.id)).state).toBe('draft');
  });

  it('the invoice cannot be read: not_sent, nothing posted', async () => {
    const inv = await draft();
    server.inject({ kind: 'status500', model: 'account.move', method: 'read' });
    const refused = await actionFailure(executor().perform(executor().prepare(invoice(inv))));
    expect(refused.meaning).toBe('not_sent');
    expect(refused.message).toMatch(/^Odoo could not be read, nothing was changed: /);
    expect((await stateOf(inv.id)).state).toBe('draft');
  });

  it('no answer to the post: uncertain', async () => {
    const inv = await draft();
    server.inject({ kind: 'hang_after', method: 'action_post' });
    const ex = executor({ settings: laptop({ timeoutMs: 700 }) });
    const refused = await actionFailure(ex.perform(ex.prepare(invoice(inv))));
    expect(refused.meaning).toBe('uncertain');
    expect((await stateOf(inv.id)).state).toBe('posted');
  });

  it("Odoo's own error answer to the post (rolled back): not_sent", async () => {
    const inv = await draft();
    server.inject({ kind: 'status500', method: 'action_post' });
    const refused = await actionFailure(executor().perform(executor().prepare(invoice(inv))));
    expect(refused.meaning).toBe('not_sent');
    expect(refused.message).toMatch(/ \(not sent\)$/);
  });

  it('classify: the meaning of an ActionFailure, anything else uncertain', () => {
    expect(executor().classify(new ActionFailure('x', 'failed'))).toBe('failed');
    expect(executor().classify(new Error('x'))).toBe('uncertain');
  });
});

describe('post_invoice: the reply with the invoice PDF', () => {
  it('posts, then sends the reply with the PDF; afterDone files its Sent copy once', async () => {
    const inv = await draft();
    const { smtp: s, transport } = await smtpTransport();
    const copies = recordingSentCopy();
    const ex = executor({ transport, sentCopy: copies });
    const prepared = ex.prepare(
      invoice(inv, { email_to: 'billing@acme.example', email_subject: 'Your invoice' }),
    );
    const performed = await ex.perform(prepared);
    const { name } = await stateOf(inv.id);
    const filename = `${String(name).replaceAll('/', '_')}.pdf`;
    expect(filename).toMatch(/^INV_2026_\d{5}\.pdf$/);
    expect(performed.detail).toMatch(
      new RegExp(`^posted in Odoo as ${String(name)}; emailed ${filename} to billing@acme\\.example: 250 `),
    );
    expect(performed.audit).toEqual({
      odoo_id: inv.id,
      name,
      protocol: 'json2',
      attachment: filename,
      accepted: ['billing@acme.example'],
      rejected: [],
    });
    expect(performed.effectId).toBe(name);
    expect(s.received).toHaveLength(1);
    const [attachment] = s.received[0]!.parsed.attachments;
    expect(attachment).toMatchObject({ filename, contentType: 'application/pdf' });
    expect(attachment!.content.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(s.received[0]!.parsed.subject).toBe('Your invoice');

    const at = new Date('2026-03-15T10:00:00Z');
    await ex.afterDone(prepared, at);
    expect(copies.filed).toHaveLength(1);
    expect(copies.filed[0]!.at).toBe(at);
    expect(copies.filed[0]!.mail).toMatchObject({
      to: 'billing@acme.example',
      messageId: prepared.payload.email!.messageId,
    });
    expect(copies.filed[0]!.mail.attachments?.map((a) => a.filename)).toEqual([filename]);
    await ex.afterDone(prepared, at);
    expect(copies.filed).toHaveLength(1);
  });

  it('afterDone files nothing for an invoice without email, or a reply never sent, or without a Sent copy', async () => {
    const copies = recordingSentCopy();
    const ex = executor({ sentCopy: copies });
    await ex.afterDone(ex.prepare(invoice({ id: 12, partnerId: 7 })), new Date());
    await ex.afterDone(
      ex.prepare(invoice({ id: 12, partnerId: 7 }, { email_to: 'a@acme.example' })),
      new Date(),
    );
    expect(copies.filed).toEqual([]);
    const inv = await draft();
    const { transport } = await smtpTransport();
    const noCopy = executor({ transport });
    const prepared = noCopy.prepare(invoice(inv, { email_to: 'a@acme.example' }));
    await noCopy.perform(prepared);
    await expect(noCopy.afterDone(prepared, new Date())).resolves.toBeUndefined();
  });

  it('the PDF cannot be read: posted, the email not sent (not_sent); the next perform sends it without posting again', async () => {
    const inv = await draft();
    const { smtp: s, transport } = await smtpTransport();
    const ex = executor({ transport });
    const prepared = ex.prepare(invoice(inv, { email_to: 'billing@acme.example' }));
    server.inject({ kind: 'status500', path: '/report/pdf' });
    const refused = await actionFailure(ex.perform(prepared));
    const { state, name } = await stateOf(inv.id);
    expect(state).toBe('posted');
    expect(refused.meaning).toBe('not_sent');
    expect(refused.message).toMatch(
      new RegExp(
        `^posted in Odoo as ${String(name)}; its PDF could not be read from Odoo, the email was not sent \\(a later pass sends it\\): Odoo report: no PDF for invoice ${inv.id} \\(HTTP 500`,
      ),
    );
    expect(s.received).toEqual([]);
    const before = calls('action_post');
    const again = await ex.perform(prepared);
    expect(again.detail).toMatch(
      new RegExp(
        `^already posted in Odoo as ${String(name)}; not posted again; emailed .*\\.pdf to billing@acme\\.example: 250 `,
      ),
    );
    expect(again.audit).toMatchObject({ already_posted: true, name });
    expect(calls('action_post')).toBe(before);
    expect(s.received).toHaveLength(1);
  });

  it.each([
    [{ rejectWith: 550 }, 'failed', 'the email was refused for good'],
    [{ rejectWith: 451 }, 'not_sent', 'the email was not sent (a later pass sends it)'],
    [{ dropAfterData: true }, 'uncertain', 'the email may or may not have left'],
  ] as const)('an SMTP server that answers %o: posted, %s', async (options, meaning, what) => {
    const inv = await draft();
    const { transport } = await smtpTransport(options);
    const copies = recordingSentCopy();
    const ex = executor({ transport, sentCopy: copies });
    const prepared = ex.prepare(invoice(inv, { email_to: 'billing@acme.example' }));
    const refused = await actionFailure(ex.perform(prepared));
    const { name } = await stateOf(inv.id);
    expect(refused.meaning).toBe(meaning);
    expect(refused.message.startsWith(`posted in Odoo as ${String(name)}; ${what}: `)).toBe(true);
    await ex.afterDone(prepared, new Date());
    expect(copies.filed).toEqual([]);
  });
});
