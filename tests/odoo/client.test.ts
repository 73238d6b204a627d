import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/config.js';
import {
  loadOdooSettings,
  type Many2one,
  OdooAccessError,
  OdooClient,
  OdooError,
  OdooMissingError,
  OdooServerError,
  type OdooSettings,
  OdooTimeoutError,
  OdooUserError,
  OdooValidationError,
} from '../../core/odoo/client.js';
import { type OdooWho, odooKeys, odooSettings, odooUsers } from './keys.js';
import { type OdooTestServer, startOdooServer } from './server.js';

/**
 * core/odoo against the test Odoo server over real HTTP, on both protocols: JSON-2 against an advertised
 * Odoo 19, JSON-RPC against an Odoo 17.
 */

const KEYS = odooKeys();
const start = (version: string) =>
  startOdooServer({ version, users: odooUsers(KEYS), today: () => '2026-03-15' });
const settingsFor = (server: OdooTestServer, who: OdooWho, overrides: Partial<OdooSettings> = {}) =>
  odooSettings(server, KEYS, who, overrides);

const noWait = { sleep: async () => {} };

/** The error a promise rejects with (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<OdooError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof OdooError) return e;
    throw e;
  }
  throw new Error('expected an OdooError');
}

const PROTOCOLS = [
  { protocol: 'json2', version: '19.0' },
  { protocol: 'jsonrpc', version: '17.0' },
] as const;

describe.each(PROTOCOLS)('Odoo client over $protocol (Odoo $version)', ({ protocol, version }) => {
  let server: OdooTestServer;
  const connect = (who: Who, overrides: Partial<OdooSettings> = {}) =>
    OdooClient.connect(settingsFor(server, who, { protocol, ...overrides }), noWait);

  beforeEach(async () => {
    server = await start(version);
  });
  afterEach(async () => {
    await server.close();
  });

  /** A customer and a draft invoice of 3 × 100 + 1 × the product's 49.50, made by the draft-only key. */
  async function draftInvoice(client: OdooClient, partner = 'Acme Trading') {
    const partnerId = await client.create('res.partner', { name: partner, email: 'ap@acme.example' });
    const productId = await client.create('product.product', {
      name: 'Support hour',
      default_code: 'SUP',
      list_price: 49.5,
    });
    const invoiceId = await client.create('account.move', {
      move_type: 'out_invoice',
      partner_id: partnerId,
      invoice_line_ids: [
        [0, 0, { name: 'Consulting, October', quantity: 3, price_unit: 100 }],
        [0, 0, { product_id: productId }],
      ],
    });
    return { partnerId, productId, invoiceId };
  }

  it('creates a partner and a draft invoice with lines: totals computed, many2one as [id, name], false for empty', async () => {
    const cloud = await connect('cloud');
    expect(cloud.protocol).toBe(protocol);
    const { partnerId, invoiceId } = await draftInvoice(cloud);
    const [invoice] = await cloud.read(
      'account.move',
      [invoiceId],
      [
        'name',
        'state',
        'move_type',
        'partner_id',
        'amount_untaxed',
        'amount_tax',
        'amount_total',
        'amount_residual',
        'payment_state',
        'invoice_line_ids',
        'invoice_date',
        'ref',
        'currency_id',
      ],
    );
    expect(invoice).toEqual({
      id: invoiceId,
      name: '/',
      state: 'draft',
      move_type: 'out_invoice',
      partner_id: [partnerId, 'Acme Trading'],
      amount_untaxed: 349.5,
      amount_tax: 0,
      amount_total: 349.5,
      amount_residual: 349.5,
      payment_state: 'not_paid',
      invoice_line_ids: [expect.any(Number), expect.any(Number)],
      invoice_date: false,
      ref: false,
      currency_id: [1, 'EUR'],
    });
    const lines = await cloud.read('account.move.line', invoice!.invoice_line_ids as number[], [
      'name',
      'quantity',
      'price_unit',
      'price_subtotal',
      'product_id',
    ]);
    expect(lines.map((l) => [l.name, l.quantity, l.price_unit, l.price_subtotal, l.product_id])).toEqual([
      ['Consulting, October', 3, 100, 300, false],
      ['[SUP] Support hour', 1, 49.5, 49.5, [expect.any(Number), '[SUP] Support hour']],
    ]);
    const [partner] = await cloud.read('res.partner', [partnerId], ['name', 'email', 'phone', 'vat']);
    expect(partner).toEqual({
      id: partnerId,
      name: 'Acme Trading',
      email: 'ap@acme.example',
      phone: false,
      vat: false,
    });
  });

  it('edits lines with command triples [1,id,{…}], [2,id,0], [0,0,{…}] and [6,0,ids]; totals follow', async () => {
    const cloud = await connect('cloud');
    const { invoiceId } = await draftInvoice(cloud);
    const total = async () =>
      (
        await cloud.read<{ amount_total: number; invoice_line_ids: number[] }>(
          'account.move',
          [invoiceId],
          ['amount_total', 'invoice_line_ids'],
        )
      )[0]!;
    const [first, second] = (await total()).invoice_line_ids;
    await cloud.write('account.move', [invoiceId], {
      invoice_line_ids: [
        [1, first, { quantity: 4 }],
        [2, second, 0],
        [0, 0, { name: 'Travel', price_unit: 20.25 }],
      ],
    });
    const after = await total();
    expect(after.amount_total).toBe(420.25);
    expect(after.invoice_line_ids).toHaveLength(2);
    await cloud.write('account.move', [invoiceId], { invoice_line_ids: [[6, 0, [first]]] });
    expect(await total()).toEqual({ id: invoiceId, amount_total: 400, invoice_line_ids: [first] });
  });

  it('posts: sequence names per type and year, state posted; posting twice is a UserError', async () => {
    const cloud = await connect('cloud');
    const laptop = await connect('laptop');
    const a = await draftInvoice(cloud);
    const b = await draftInvoice(cloud, 'Beta GmbH');
    const bill = await cloud.create('account.move', {
      move_type: 'in_invoice',
      partner_id: b.partnerId,
      invoice_date: '2025-12-30',
      invoice_line_ids: [[0, 0, { name: 'Hosting', price_unit: 12 }]],
    });
    expect(await laptop.call('account.move', 'action_post', [a.invoiceId])).toBe(false);
    await laptop.call('account.move', 'action_post', [b.invoiceId]);
    await laptop.call('account.move', 'action_post', [bill]);
    const moves = await laptop.read(
      'account.move',
      [a.invoiceId, b.invoiceId, bill],
      ['name', 'state', 'invoice_date'],
    );
    expect(moves.map((m) => [m.name, m.state, m.invoice_date])).toEqual([
      ['INV/2026/00001', 'posted', '2026-03-15'],
      ['INV/2026/00002', 'posted', '2026-03-15'],
      ['BILL/2025/00001', 'posted', '2025-12-30'],
    ]);

    const twice = await failure(laptop.call('account.move', 'action_post', [a.invoiceId]));
    expect(twice).toBeInstanceOf(OdooUserError);
    expect(twice.message).toContain('INV/2026/00001');
    expect(twice.message).toContain('already posted');
    expect(twice.details).toMatchObject({ protocol, odooName: 'odoo.exceptions.UserError' });

    // Reset to draft and post again: the number stays.
    await laptop.call('account.move', 'button_draft', [a.invoiceId]);
    expect((await laptop.read('account.move', [a.invoiceId], ['state', 'name']))[0]).toMatchObject({
      state: 'draft',
      name: 'INV/2026/00001',
    });
    await laptop.call('account.move', 'action_post', [a.invoiceId]);
    expect((await laptop.read('account.move', [a.invoiceId], ['name']))[0]!.name).toBe('INV/2026/00001');
  });

  it('the draft-only key drafts but cannot post or pay: AccessError → OdooAccessError, nothing changed', async () => {
    const cloud = await connect('cloud');
    const laptop = await connect('laptop');
    const { invoiceId } = await draftInvoice(cloud);
    await cloud.write('account.move', [invoiceId], { ref: 'October' });

    const post = await failure(cloud.call('account.move', 'action_post', [invoiceId]));
    expect(post).toBeInstanceOf(OdooAccessError);
    expect(post.details.odooName).toBe('odoo.exceptions.AccessError');
    expect(post.message).toMatch(/not allowed to post/);
    expect((await cloud.read('account.move', [invoiceId], ['state']))[0]!.state).toBe('draft');

    await laptop.call('account.move', 'action_post', [invoiceId]);
    const wizard = await failure(
      cloud.create(
        'account.payment.register',
        {},
        { context: { active_model: 'account.move', active_ids: [invoiceId] } },
      ),
    );
    expect(wizard).toBeInstanceOf(OdooAccessError);
    const payment = await failure(
      cloud.create('account.payment', {
        payment_type: 'inbound',
        amount: 10,
        invoice_ids: [[6, 0, [invoiceId]]],
      }),
    );
    expect(payment).toBeInstanceOf(OdooAccessError);
    // A posted invoice is out of the draft-only key's reach.
    expect(await failure(cloud.write('account.move', [invoiceId], { ref: 'x' }))).toBeInstanceOf(
      OdooAccessError,
    );
    expect(await failure(cloud.call('account.move', 'button_draft', [invoiceId]))).toBeInstanceOf(
      OdooAccessError,
    );
    expect((await cloud.read('account.move', [invoiceId], ['state', 'payment_state']))[0]).toMatchObject({
      state: 'posted',
      payment_state: 'not_paid',
    });
    expect(await cloud.searchCount('account.payment', [])).toBe(0);
  });

  it('register payment (wizard) → paid; a smaller account.payment → partial with the residual', async () => {
    const cloud = await connect('cloud');
    const laptop = await connect('laptop');
    const a = await draftInvoice(cloud);
    const b = await draftInvoice(cloud, 'Beta GmbH');
    await laptop.call('account.move', 'action_post', [a.invoiceId]);
    await laptop.call('account.move', 'action_post', [b.invoiceId]);

    const wizard = await laptop.create(
      'account.payment.register',
      { payment_date: '2026-03-20' },
      { context: { active_model: 'account.move', active_ids: [a.invoiceId] } },
    );
    const action = await laptop.call<Record<string, unknown>>(
      'account.payment.register',
      'action_create_payments',
      [wizard],
    );
    expect(action).toMatchObject({ type: 'ir.actions.act_window', res_model: 'account.payment' });
    const [paid] = await laptop.read(
      'account.move',
      [a.invoiceId],
      ['payment_state', 'amount_residual', 'matched_payment_ids'],
    );
    expect(paid).toMatchObject({
      payment_state: 'paid',
      amount_residual: 0,
      matched_payment_ids: [action.res_id],
    });
    const [payment] = await laptop.read(
      'account.payment',
      [action.res_id as number],
      ['name', 'state', 'amount', 'partner_id', 'date'],
    );
    expect(payment).toMatchObject({
      name: 'PBNK1/2026/00001',
      state: 'paid',
      amount: 349.5,
      partner_id: [a.partnerId, 'Acme Trading'],
      date: '2026-03-20',
    });
    const again = await failure(
      laptop.create(
        'account.payment.register',
        {},
        { context: { active_model: 'account.move', active_ids: [a.invoiceId] } },
      ),
    );
    expect(again).toBeInstanceOf(OdooUserError);

    const partial = await laptop.create('account.payment', {
      payment_type: 'inbound',
      partner_type: 'customer',
      partner_id: b.partnerId,
      amount: 100,
      invoice_ids: [[6, 0, [b.invoiceId]]],
    });
    await laptop.call('account.payment', 'action_post', [partial]);
    expect(
      (await laptop.read('account.move', [b.invoiceId], ['payment_state', 'amount_residual']))[0],
    ).toMatchObject({
      payment_state: 'partial',
      amount_residual: 249.5,
    });
    // A paid invoice cannot go back to draft while its payment is matched.
    expect(await failure(laptop.call('account.move', 'button_draft', [a.invoiceId]))).toBeInstanceOf(
      OdooUserError,
    );
  });

  it('search_read with domains (|, !, ilike, in, implicit AND, dotted many2one), order, limit, offset; search_count', async () => {
    const admin = await connect('admin');
    const ids: Record<string, number> = {};
    for (const [name, city, company] of [
      ['Acme Trading', 'Brussels', true],
      ['acme labs', 'Ghent', true],
      ['Beta GmbH', 'Berlin', true],
      ['Carla Díaz', 'Brussels', false],
      ['Dan Ode', false, false],
    ] as const) {
      ids[name] = await admin.create('res.partner', { name, city, is_company: company });
    }
    const names = async (domain: Parameters<OdooClient['searchRead']>[1], order = 'name asc') =>
      (await admin.searchRead<{ name: string }>('res.partner', domain, ['name'], { order })).map(
        (p) => p.name,
      );

    expect(await names([['name', 'ilike', 'ACME']])).toEqual(['Acme Trading', 'acme labs']);
    expect(await names(['|', ['city', '=', 'Berlin'], ['city', '=', 'Ghent']])).toEqual([
      'Beta GmbH',
      'acme labs',
    ]);
    expect(await names(['!', ['is_company', '=', true]])).toEqual(['Carla Díaz', 'Dan Ode']);
    expect(await names([['id', 'in', [ids['Beta GmbH'], ids['Dan Ode']]]])).toEqual(['Beta GmbH', 'Dan Ode']);
    expect(
      await names([
        ['city', 'not in', ['Brussels']],
        ['is_company', '=', true],
      ]),
    ).toEqual(['Beta GmbH', 'acme labs']);
    expect(await names(['&', ['city', '=', 'Brussels'], '!', ['name', 'like', 'Acme']])).toEqual([
      'Carla Díaz',
    ]);
    expect(await names([['city', '=', false]])).toEqual(['Dan Ode']);
    expect(await names([['city', '!=', false]], 'city desc, name asc')).toEqual([
      'acme labs',
      'Acme Trading',
      'Carla Díaz',
      'Beta GmbH',
    ]);
    const page = await admin.searchRead('res.partner', [], ['name'], { order: 'id', limit: 2, offset: 1 });
    expect(page.map((p) => p.id)).toEqual([ids['acme labs'], ids['Beta GmbH']]);
    expect(await admin.searchCount('res.partner', [['name', 'ilike', 'a']])).toBe(5);
    expect(await admin.search('res.partner', [['name', '=like', 'B%']])).toEqual([ids['Beta GmbH']]);

    // Invoices found through their partner's name; many2one values as [id, display name].
    const inv = await admin.create('account.move', {
      move_type: 'out_invoice',
      partner_id: ids['Beta GmbH']!,
      invoice_line_ids: [[0, 0, { name: 'x', price_unit: 5 }]],
    });
    const found = await admin.searchRead<{ partner_id: Many2one }>(
      'account.move',
      [
        ['partner_id.name', 'ilike', 'beta'],
        ['state', '=', 'draft'],
      ],
      ['partner_id'],
    );
    expect(found).toEqual([{ id: inv, partner_id: [ids['Beta GmbH'], 'Beta GmbH'] }]);
  });

  it('every call is one transaction: a create whose second line fails leaves no invoice and no line', async () => {
    const admin = await connect('admin');
    const partner = await admin.create('res.partner', { name: 'Acme' });
    const e = await failure(
      admin.create('account.move', {
        move_type: 'out_invoice',
        partner_id: partner,
        invoice_line_ids: [
          [0, 0, { name: 'ok', price_unit: 1 }],
          [0, 0, { name: 'bad', product_id: 4242 }],
        ],
      }),
    );
    expect(e).toBeInstanceOf(OdooMissingError);
    expect(await admin.searchCount('account.move', [])).toBe(0);
    expect(await admin.searchCount('account.move.line', [])).toBe(0);
    const id = await admin.create('account.move', { move_type: 'out_invoice', partner_id: partner });
    expect(id).toBe(1);
  });

  it('a missing record is OdooMissingError; a contact without a name is OdooValidationError', async () => {
    const admin = await connect('admin');
    const read = await failure(admin.read('account.move', [9999], ['name']));
    expect(read).toBeInstanceOf(OdooMissingError);
    expect(read.message).toMatch(/does not exist/);
    expect(await failure(admin.write('res.partner', [9999], { name: 'x' }))).toBeInstanceOf(OdooMissingError);
    expect(await failure(admin.call('account.move', 'action_post', [9999]))).toBeInstanceOf(OdooMissingError);
    const invalid = await failure(admin.create('res.partner', { name: '' }));
    expect(invalid).toBeInstanceOf(OdooValidationError);
    expect(invalid.details.odooName).toBe('odoo.exceptions.ValidationError');
  });

  it('a wrong API key is OdooAccessError, and the key is in no message', async () => {
    const wrong = `bad${randomBytes(12).toString('hex')}`;
    const e = await failure(
      OdooClient.connect(settingsFor(server, 'admin', { protocol, apiKey: wrong }), noWait).then((c) =>
        c.searchRead('res.partner', [], ['name']),
      ),
    );
    expect(e).toBeInstanceOf(OdooAccessError);
    expect(e.message).not.toContain(wrong);
  });

  it('500, an HTML error page, a body that is not JSON, no answer: OdooServerError / OdooTimeoutError without the key', async () => {
    const admin = await connect('admin', { readRetries: 0, timeoutMs: 400 });
    await admin.searchCount('res.partner', []); // JSON-RPC logs in here, so faults hit the calls below

    server.inject({ kind: 'status500', model: 'res.partner' });
    const e500 = await failure(admin.searchRead('res.partner', [], ['name']));
    expect(e500).toBeInstanceOf(OdooServerError);
    expect(e500.details.status).toBe(500);

    server.inject({ kind: 'html', model: 'res.partner' });
    const html = await failure(admin.searchRead('res.partner', [], ['name']));
    expect(html).toBeInstanceOf(OdooServerError);
    expect(html.message).toContain('502 Bad Gateway');
    expect(html.message).not.toContain('<');
    // The page echoes the request (key included): the client shows it redacted.
    expect(html.message).toContain('[redacted]');

    server.inject({ kind: 'notjson', model: 'res.partner' });
    expect(await failure(admin.searchRead('res.partner', [], ['name']))).toBeInstanceOf(OdooServerError);

    server.inject({ kind: 'hang', model: 'res.partner' });
    const started = Date.now();
    const hang = await failure(admin.searchRead('res.partner', [], ['name']));
    expect(hang).toBeInstanceOf(OdooTimeoutError);
    expect(Date.now() - started).toBeLessThan(3_000);

    for (const e of [e500, html, hang]) {
      expect(e.message).not.toContain(KEYS.admin);
      expect(JSON.stringify(e.details)).not.toContain(KEYS.admin);
    }
  });

  it('reads are retried (one 500, then the answer); a create is sent once and its failure is outcome-unknown', async () => {
    const admin = await connect('admin');
    await admin.create('res.partner', { name: 'Acme Trading' });
    const count = (method: string) =>
      server.calls.filter((c) => c.model === 'res.partner' && c.method === method).length;

    server.inject({ kind: 'status500', model: 'res.partner', method: 'search_read' });
    const found = await admin.searchRead('res.partner', [], ['name']);
    expect(found.map((p) => p.name)).toEqual(['Acme Trading']);
    expect(count('search_read')).toBe(2);

    server.inject({ kind: 'status500', model: 'res.partner', method: 'create' });
    const e = await failure(admin.create('res.partner', { name: 'Beta GmbH' }));
    expect(e).toBeInstanceOf(OdooServerError);
    expect(count('create')).toBe(2); // the first create above, and exactly one for Beta
    // JSON-2's 500 carries Odoo's error body (its transaction was rolled back); JSON-RPC's is an HTML page.
    expect(e.details.outcomeUnknown).toBe(protocol === 'jsonrpc');
    server.inject({ kind: 'html', model: 'res.partner', method: 'create' });
    const page = await failure(admin.create('res.partner', { name: 'Gamma' }));
    expect(page.details.outcomeUnknown).toBe(true);
    expect(count('create')).toBe(3);
    expect(await admin.searchCount('res.partner', [])).toBe(1);

    server.inject({ kind: 'hang', model: 'account.move', method: 'action_post' });
    const quick = await connect('admin', { timeoutMs: 300 });
    const inv = await quick.create('account.move', {
      move_type: 'out_invoice',
      partner_id: 1,
      invoice_line_ids: [[0, 0, { name: 'x', price_unit: 1 }]],
    });
    const post = await failure(quick.call('account.move', 'action_post', [inv]));
    expect(post).toBeInstanceOf(OdooTimeoutError);
    expect(post.details.outcomeUnknown).toBe(true);
    expect(server.calls.filter((c) => c.method === 'action_post')).toHaveLength(1);
  });

  it('a login that fails before a write is retried on its own (JSON-RPC has one; JSON-2 none): the write is sent once', async () => {
    const admin = await connect('admin');
    server.inject({ kind: 'status500', method: 'authenticate' });
    expect(await admin.create('res.partner', { name: 'Acme' })).toBe(1);
    expect(server.calls.map((c) => [c.method, c.fault ?? null])).toEqual(
      protocol === 'jsonrpc'
        ? [
            ['authenticate', 'status500'],
            ['authenticate', null],
            ['create', null],
          ]
        : [['create', null]],
    );
  });

  it('the invoice PDF from the report route starts with %PDF- and names the invoice and its total', async () => {
    const laptop = await connect('laptop');
    const { invoiceId } = await draftInvoice(laptop);
    await laptop.call('account.move', 'action_post', [invoiceId]);
    const pdf = await laptop.invoicePdf(invoiceId);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const text = pdf.toString('latin1');
    expect(text).toContain('(INV/2026/00001) Tj');
    expect(text).toContain('(Total: 349.50 EUR) Tj');
    expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
    expect(await failure(laptop.invoicePdf(424242))).toBeInstanceOf(OdooMissingError);
  });
});

describe('Odoo client: protocol detection and settings', () => {
  const servers: OdooTestServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });

  it('auto picks json2 against Odoo 19 and jsonrpc against Odoo 17 and 18', async () => {
    for (const [version, expected] of [
      ['19.0', 'json2'],
      ['saas~19.1', 'json2'],
      ['18.0', 'jsonrpc'],
      ['17.0', 'jsonrpc'],
    ] as const) {
      const server = await start(version);
      servers.push(server);
      const client = await OdooClient.connect(settingsFor(server, 'admin'), noWait);
      expect(client.protocol, version).toBe(expected);
      expect((await client.version()).version).toBe(version);
      expect(await client.searchCount('res.partner', [])).toBe(0);
      expect(server.calls.some((c) => c.protocol === expected)).toBe(true);
    }
  });

  it('auto against Odoo 17 without ODOO_LOGIN is a ConfigError; a version read is retried after a 500', async () => {
    const server = await start('17.0');
    servers.push(server);
    await expect(
      OdooClient.connect(settingsFor(server, 'admin', { login: undefined }), noWait),
    ).rejects.toBeInstanceOf(ConfigError);
    const before = server.calls.length;
    server.inject({ kind: 'status500', path: '/web/version' });
    const client = await OdooClient.connect(settingsFor(server, 'admin'), noWait);
    expect(client.protocol).toBe('jsonrpc');
    expect(server.calls.slice(before).map((c) => [c.path, c.fault])).toEqual([
      ['/web/version', 'status500'],
      ['/web/version', undefined],
    ]);
  });

  it('loadOdooSettings: validated with zod, the key from a file, errors that never show the key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fte-odoo-settings-'));
    try {
      await writeFile(join(dir, 'key'), `${KEYS.laptop}\n`);
      const base = { ODOO_URL: 'https://odoo.example.com/', ODOO_DB: 'prod', ODOO_LOGIN: 'laptop' };
      expect(loadOdooSettings({ ...base, ODOO_API_KEY_FILE: join(dir, 'key') })).toEqual({
        url: 'https://odoo.example.com',
        database: 'prod',
        login: 'laptop',
        apiKey: KEYS.laptop,
        protocol: 'auto',
        timeoutMs: 30_000,
        readRetries: 2,
      });
      const bad = [
        { ...base, ODOO_API_KEY: KEYS.laptop, ODOO_API_KEY_FILE: join(dir, 'key') },
        { ...base, ODOO_API_KEY: KEYS.laptop, ODOO_PROTOCOL: 'xmlrpc' },
        { ...base, ODOO_API_KEY: KEYS.laptop, ODOO_URL: 'odoo.example.com' },
        { ...base, ODOO_API_KEY: KEYS.laptop, ODOO_PROTOCOL: 'jsonrpc', ODOO_LOGIN: '' },
        { ...base, ODOO_API_KEY: `${KEYS.laptop} x` },
        { ...base, ODOO_API_KEY_FILE: join(dir, 'absent') },
        { ...base },
      ];
      for (const env of bad) {
        let error: unknown;
        try {
          loadOdooSettings(env);
        } catch (e) {
          error = e;
        }
        expect(error, JSON.stringify(env)).toBeInstanceOf(ConfigError);
        expect((error as Error).message).not.toContain(KEYS.laptop);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
