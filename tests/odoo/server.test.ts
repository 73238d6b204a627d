import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_USERS, type OdooTestServer, startOdooServer } from './server.js';

/**
 * The test Odoo server's wire shapes, with plain fetch: what an Odoo client other than core/odoo would
 * send (positional execute_kw arguments, `execute`, create with a dict) and the exact error envelopes.
 */

const KEY = { admin: 'admin-key-0123456789', cloud: 'cloud-key-0123456789' } as const;
const users = () =>
  DEFAULT_USERS.map((u) => ({ ...u, apiKeys: u.login in KEY ? [KEY[u.login as keyof typeof KEY]] : [] }));

describe('test Odoo server: wire shapes', () => {
  let server: OdooTestServer;
  let rpcId = 0;

  const jsonrpc = async (service: string, method: string, args: unknown[]) => {
    const res = await fetch(`${server.url}/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        method: 'call',
        params: { service, method, args },
        id: ++rpcId,
      }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const json2 = async (model: string, method: string, body: unknown, key: string = KEY.admin) => {
    const res = await fetch(`${server.url}/json/2/${model}/${method}`, {
      method: 'POST',
      headers: {
        authorization: `bearer ${key}`,
        'content-type': 'application/json; charset=utf-8',
        'x-odoo-database': 'odoo',
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  };

  beforeEach(async () => {
    server = await startOdooServer({ version: '19.0', users: users(), today: () => '2026-10-31' });
  });
  afterEach(async () => {
    await server.close();
  });

  it('JSON-RPC: common.version, authenticate, positional execute_kw and execute, create with a dict → an id', async () => {
    const version = await jsonrpc('common', 'version', []);
    expect(version).toEqual({
      status: 200,
      body: {
        jsonrpc: '2.0',
        id: rpcId,
        result: {
          server_version: '19.0',
          server_version_info: [19, 0, 0, 'final', 0, ''],
          server_serie: '19.0',
          protocol_version: 1,
        },
      },
    });
    expect((await jsonrpc('common', 'authenticate', ['odoo', 'admin', KEY.admin, {}])).body.result).toBe(2);
    expect((await jsonrpc('common', 'authenticate', ['odoo', 'admin', 'nope', {}])).body.result).toBe(false);
    expect((await jsonrpc('common', 'login', ['odoo', 'admin', 'admin'])).body.result).toBe(2);

    const created = await jsonrpc('object', 'execute_kw', [
      'odoo',
      2,
      KEY.admin,
      'res.partner',
      'create',
      [{ name: 'Acme' }],
    ]);
    expect(created.body.result).toBe(1);
    const many = await jsonrpc('object', 'execute_kw', [
      'odoo',
      2,
      KEY.admin,
      'res.partner',
      'create',
      [[{ name: 'Beta' }, { name: 'Gamma', city: 'Ghent' }]],
    ]);
    expect(many.body.result).toEqual([2, 3]);
    const read = await jsonrpc('object', 'execute_kw', [
      'odoo',
      2,
      KEY.admin,
      'res.partner',
      'search_read',
      [[['city', '=', false]], ['name', 'city']],
      { order: 'name desc', limit: 5 },
    ]);
    expect(read.body.result).toEqual([
      { id: 2, name: 'Beta', city: false },
      { id: 1, name: 'Acme', city: false },
    ]);
    const executed = await jsonrpc('object', 'execute', [
      'odoo',
      2,
      KEY.admin,
      'res.partner',
      'read',
      [3],
      ['name'],
    ]);
    expect(executed.body.result).toEqual([{ id: 3, name: 'Gamma' }]);
  });

  it('JSON-RPC errors: HTTP 200, error {code 200, "Odoo Server Error", data {name, message, arguments, debug, context}}', async () => {
    const denied = await jsonrpc('object', 'execute_kw', ['odoo', 2, 'wrong', 'res.partner', 'search', [[]]]);
    expect(denied.status).toBe(200);
    expect(denied.body).toEqual({
      jsonrpc: '2.0',
      id: rpcId,
      error: {
        code: 200,
        message: 'Odoo Server Error',
        data: {
          name: 'odoo.exceptions.AccessDenied',
          message: 'Access Denied',
          arguments: ['Access Denied'],
          debug: expect.stringContaining('Traceback'),
          context: {},
        },
      },
    });
    const move = await jsonrpc('object', 'execute_kw', [
      'odoo',
      6,
      KEY.cloud,
      'account.move',
      'create',
      [
        {
          move_type: 'out_invoice',
          partner_id: false,
          invoice_line_ids: [[0, 0, { name: 'x', price_unit: 1 }]],
        },
      ],
    ]);
    const posted = await jsonrpc('object', 'execute_kw', [
      'odoo',
      6,
      KEY.cloud,
      'account.move',
      'action_post',
      [[move.body.result]],
      { context: { lang: 'en_US' } },
    ]);
    expect(posted.body.error).toMatchObject({
      code: 200,
      message: 'Odoo Server Error',
      data: { name: 'odoo.exceptions.AccessError', context: { lang: 'en_US' } },
    });
    const privateMethod = await jsonrpc('object', 'execute_kw', [
      'odoo',
      2,
      KEY.admin,
      'account.move',
      '_post',
      [[1]],
    ]);
    expect((privateMethod.body.error as { data: { name: string } }).data.name).toBe(
      'odoo.exceptions.AccessError',
    );
    const typo = await jsonrpc('object', 'execute_kw', [
      'odoo',
      2,
      KEY.admin,
      'res.partner',
      'search_read',
      [],
      { feilds: [] },
    ]);
    expect((typo.body.error as { data: { name: string; message: string } }).data).toMatchObject({
      name: 'builtins.TypeError',
      message: "search_read() got an unexpected keyword argument 'feilds'",
    });
  });

  it('JSON-2: named arguments with ids/context; errors with the HTTP status and {name, message, arguments, context, debug}', async () => {
    expect(await json2('res.partner', 'create', { vals_list: [{ name: 'Acme' }] })).toEqual({
      status: 200,
      body: [1],
    });
    expect(await json2('res.partner', 'read', { ids: [1], fields: ['name', 'email'] })).toEqual({
      status: 200,
      body: [{ id: 1, name: 'Acme', email: false }],
    });
    expect(await json2('res.users', 'context_get', {}, KEY.cloud)).toEqual({
      status: 200,
      body: { lang: 'en_US', tz: 'Europe/Brussels', uid: 6 },
    });

    const unauthorized = await json2('res.partner', 'search', { domain: [] }, 'not-a-key');
    expect(unauthorized).toEqual({
      status: 401,
      body: {
        name: 'werkzeug.exceptions.Unauthorized',
        message: 'Invalid apikey',
        arguments: ['Invalid apikey', 401],
        context: {},
        debug: expect.any(String),
      },
    });
    const invoice = (
      await json2(
        'account.move',
        'create',
        {
          vals_list: [
            {
              move_type: 'out_invoice',
              partner_id: 1,
              invoice_line_ids: [[0, 0, { name: 'x', price_unit: 5 }]],
            },
          ],
        },
        KEY.cloud,
      )
    ).body as number[];
    const forbidden = await json2(
      'account.move',
      'action_post',
      { ids: invoice, context: { tz: 'UTC' } },
      KEY.cloud,
    );
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({
      name: 'odoo.exceptions.AccessError',
      arguments: [expect.stringContaining('not allowed')],
      context: { tz: 'UTC' },
    });
    expect(await json2('account.move', 'action_post', { ids: invoice })).toEqual({
      status: 200,
      body: false,
    });
    const twice = await json2('account.move', 'action_post', { ids: invoice });
    expect(twice.status).toBe(422);
    expect(twice.body).toMatchObject({
      name: 'odoo.exceptions.UserError',
      message: `The entry INV/2026/00001 (id ${invoice[0]}) is already posted.`,
    });
    const missing = await json2('res.partner', 'read', { ids: [99], fields: ['name'] });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ name: 'odoo.exceptions.MissingError' });
    expect((await json2('no.such.model', 'search', {})).status).toBe(404);
    const positional = await json2('res.partner', 'search', { domain: [], bogus: 1 });
    expect(positional).toMatchObject({ status: 500, body: { name: 'builtins.TypeError' } });
  });

  it('JSON-2 does not exist before Odoo 19; /web/version and /web/health answer on every version', async () => {
    const old = await startOdooServer({ version: '17.0', users: users() });
    try {
      const res = await fetch(`${old.url}/json/2/res.partner/search`, {
        method: 'POST',
        headers: { authorization: `bearer ${KEY.admin}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await (await fetch(`${old.url}/web/version`)).json()).toEqual({
        version_info: [17, 0, 0, 'final', 0, ''],
        version: '17.0',
      });
      expect(await (await fetch(`${old.url}/web/health`)).json()).toEqual({ status: 'pass' });
    } finally {
      await old.close();
    }
  });

  it('the report route: a PDF whose cross-reference offsets point at its objects; anonymous → /web/login', async () => {
    await json2('res.partner', 'create', { vals_list: [{ name: 'Acme (Europe)' }] });
    await json2('account.move', 'create', {
      vals_list: [
        {
          move_type: 'out_invoice',
          partner_id: 1,
          invoice_line_ids: [[0, 0, { name: 'Work', price_unit: 1234.5 }]],
        },
      ],
    });
    const res = await fetch(`${server.url}/report/pdf/account.report_invoice/1`, {
      headers: { authorization: `bearer ${KEY.admin}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    const pdf = Buffer.from(await res.arrayBuffer());
    const text = pdf.toString('latin1');
    expect(text.startsWith('%PDF-1.4\n')).toBe(true);
    expect(text).toContain('(Customer: Acme \\(Europe\\)) Tj');
    expect(text).toContain('(Total: 1234.50 EUR) Tj');
    const startxref = Number(/startxref\n(\d+)\n%%EOF\n$/.exec(text)?.[1]);
    expect(text.slice(startxref, startxref + 4)).toBe('xref');
    const offsets = [...text.slice(startxref).matchAll(/^(\d{10}) 00000 n $/gm)].map((m) => Number(m[1]));
    expect(offsets).toHaveLength(6);
    offsets.forEach((offset, i) => {
      expect(text.slice(offset, offset + 8)).toBe(`${i + 1} 0 obj\n`);
    });

    const anonymous = await fetch(`${server.url}/report/pdf/account.report_invoice/1`, {
      redirect: 'manual',
    });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toMatch(/^\/web\/login\?redirect=/);
  });

  it('test routes exist only when enabled: faults armed over HTTP, calls listed', async () => {
    expect((await fetch(`${server.url}/__test__/calls`)).status).toBe(404);
    const open = await startOdooServer({ users: users(), testRoutes: true });
    try {
      const armed = await fetch(`${open.url}/__test__/fault`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'status500', path: '/web/version', count: 2 }),
      });
      expect(armed.status).toBe(200);
      expect((await fetch(`${open.url}/web/version`)).status).toBe(500);
      expect((await fetch(`${open.url}/web/version`)).status).toBe(500);
      expect((await fetch(`${open.url}/web/version`)).status).toBe(200);
      const calls = (await (await fetch(`${open.url}/__test__/calls`)).json()) as { fault?: string }[];
      expect(calls.map((c) => c.fault ?? null)).toEqual(['status500', 'status500', null]);
    } finally {
      await open.close();
    }
  });
});
