/**
 * A test Odoo server over real HTTP, NOT Odoo: it speaks Odoo's two external APIs as the documentation
 * describes them (odoo/documentation, content/developer/reference/external_api.rst) on top of the
 * in-memory accounting state of state.ts:
 *   POST /jsonrpc                   JSON-RPC 2.0: common.version/login/authenticate, object.execute(_kw),
 *                                   db.list/server_version; errors HTTP 200 with
 *                                   error {code: 200, message: "Odoo Server Error", data: {name, message, arguments, debug, context}}
 *   POST /json/2/<model>/<method>   JSON-2 (advertised version >= 19 only): Authorization: bearer <key>,
 *                                   X-Odoo-Database, named arguments plus ids/context; errors with the HTTP
 *                                   status of the exception and body {name, message, arguments, context, debug}
 *   GET  /web/version               {version_info, version}
 *   POST /web/webclient/version_info  common.version's result as a JSON-RPC response
 *   GET  /web/health                {"status": "pass"}
 *   GET  /report/pdf/account.report_invoice/<ids>   the invoice as a small PDF (bearer key, see below)
 * Fault injection (`inject`, or POST /__test__/fault when enabled): the next N matching requests get a 500,
 * an HTML error page, a body that is not JSON, or no answer at all. Only node: modules, so it runs in the
 * test image as plain JavaScript.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Row } from './domain.js';
import { textPdf } from './pdf.js';
import {
  accessDenied,
  accessError,
  type Call,
  type DatabaseOptions,
  knownModel,
  methodSignature,
  OdooDatabase,
  OdooException,
  type OdooUser,
  typeError,
  userError,
} from './state.js';

export type { Group, OdooUser } from './state.js';

/**
 * `hang` never answers and does nothing; `hang_after` carries the call out (Odoo committed) and then never
 * answers: a client killed or timed out while waiting cannot know it happened.
 */
export type FaultKind = 'status500' | 'html' | 'notjson' | 'hang' | 'hang_after';

export interface Fault {
  kind: FaultKind;
  /** How many matching requests get it (default 1). */
  count?: number;
  /** Only requests for this model / method (JSON-2, object.execute_kw) or this path prefix. */
  model?: string;
  method?: string;
  path?: string;
}

/** One request as the server understood it, faulted or not. */
export interface SeenCall {
  protocol: 'json2' | 'jsonrpc' | 'http';
  path: string;
  service?: string;
  model?: string;
  method?: string;
  /** The user whose key or password signed the call in (undefined: none did). */
  login?: string;
  fault?: FaultKind;
}

export interface OdooServerOptions extends DatabaseOptions {
  /** The advertised version, e.g. "19.0" or "17.0"; JSON-2 exists from 19 on. Default 19.0. */
  version?: string;
  /** The one database; default "odoo". */
  database?: string;
  users?: OdooUser[];
  host?: string;
  port?: number;
  /** Expose POST /__test__/fault and GET /__test__/calls (for the standalone server). */
  testRoutes?: boolean;
  log?: (line: string) => void;
}

export interface OdooTestServer {
  url: string;
  version: string;
  database: string;
  db: OdooDatabase;
  calls: SeenCall[];
  inject(fault: Fault): void;
  close(): Promise<void>;
}

/** Users for tests: an admin, a draft-only cloud user and a laptop user that may post and pay. */
export const DEFAULT_USERS: OdooUser[] = [
  {
    id: 2,
    login: 'admin',
    name: 'Administrator',
    password: 'admin',
    apiKeys: [],
    groups: ['draft', 'post', 'pay'],
  },
  { id: 6, login: 'cloud', name: 'Cloud Drafter', apiKeys: [], groups: ['draft'] },
  { id: 7, login: 'laptop', name: 'Laptop Executive', apiKeys: [], groups: ['draft', 'post', 'pay'] },
];

/** Odoo's common.version() (odoo/service/common.py exp_version). */
export function versionInfo(version: string): Row {
  const [, major, minor] = /(\d+)(?:\.(\d+))?/.exec(version)?.map(Number) ?? [0, 0, 0];
  return {
    server_version: version,
    server_version_info: [major, minor || 0, 0, 'final', 0, ''],
    server_serie: version,
    protocol_version: 1,
  };
}

const MAX_BODY = 1024 * 1024;

function serialize(e: unknown, context: Row): Row {
  if (e instanceof OdooException) {
    return {
      name: e.odooName,
      message: e.message,
      arguments: [e.message],
      context,
      debug: `Traceback (most recent call last):\n  (test Odoo server)\n${e.odooName}: ${e.message}\n`,
    };
  }
  const message = e instanceof Error ? e.message : String(e);
  return {
    name: 'builtins.Exception',
    message,
    arguments: [message],
    context,
    debug: `Traceback (most recent call last):\n  (test Odoo server)\nException: ${message}\n`,
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function htmlPage(status: number, title: string, text: string): string {
  return `<!doctype html>\n<html lang=en>\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n<p>${text}</p>\n`;
}

export async function startOdooServer(options: OdooServerOptions = {}): Promise<OdooTestServer> {
  const version = options.version ?? '19.0';
  const major = Number(/(\d+)/.exec(version)?.[1] ?? 0);
  const database = options.database ?? 'odoo';
  const users = options.users ?? DEFAULT_USERS;
  const db = new OdooDatabase(users, options);
  const calls: SeenCall[] = [];
  const faults: (Fault & { count: number })[] = [];
  const hanging = new Set<ServerResponse>();
  const log = options.log ?? (() => {});

  const byKey = (key: string) => users.find((u) => u.apiKeys.includes(key));
  const byPassword = (login: unknown, password: unknown) =>
    users.find(
      (u) =>
        u.login === login &&
        typeof password === 'string' &&
        password !== '' &&
        (u.password === password || u.apiKeys.includes(password)),
    );

  const send = (
    res: ServerResponse,
    status: number,
    type: string,
    body: string | Buffer,
    headers: Row = {},
  ) => {
    res.writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      ...(headers as Record<string, string>),
    });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, value: unknown) =>
    send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

  /** The fault for this request, if one is armed and matches; spends one of its count. */
  const takeFault = (seen: SeenCall): FaultKind | undefined => {
    const i = faults.findIndex(
      (f) =>
        (!f.model || f.model === seen.model) &&
        (!f.method || f.method === seen.method) &&
        (!f.path || seen.path.startsWith(f.path)),
    );
    if (i < 0) return undefined;
    const fault = faults[i]!;
    fault.count -= 1;
    if (fault.count <= 0) faults.splice(i, 1);
    return fault.kind;
  };

  /** `echo`: the request, which the HTML page shows like a debugging proxy would (keys included). */
  const answerFault = (res: ServerResponse, kind: FaultKind, seen: SeenCall, echo: string) => {
    log(`fault ${kind} for ${seen.path} ${seen.model ?? ''} ${seen.method ?? ''}`);
    switch (kind) {
      case 'status500':
        if (seen.protocol === 'json2') {
          json(res, 500, serialize(new Error('injected fault: the database connection was lost'), {}));
        } else {
          send(
            res,
            500,
            'text/html; charset=utf-8',
            htmlPage(500, 'Internal Server Error', 'injected fault'),
          );
        }
        return;
      case 'html':
        send(
          res,
          502,
          'text/html',
          `<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<pre>${escapeHtml(echo)}</pre>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
        );
        return;
      case 'notjson':
        send(res, 200, 'application/json', '{"jsonrpc": "2.0", "id": 1, "result": [{"id": 1, "na');
        return;
      case 'hang':
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
    }
  };

  /** Who signs the request in (a bearer key, or execute_kw's uid and password), for `calls`. */
  const callerOf = (req: IncomingMessage, seen: SeenCall, body: unknown): string | undefined => {
    const bearer = /^bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    if (bearer) return byKey(bearer)?.login;
    if (seen.protocol !== 'jsonrpc' || seen.service !== 'object') return undefined;
    const args = ((body as Row).params as Row).args as unknown[];
    const user = users.find((u) => u.id === args[1]);
    return user && byPassword(user.login, args[2]) ? user.login : undefined;
  };

  /** The call runs as usual; its answer is never written and the connection stays open. */
  const swallowAnswer = (res: ServerResponse) => {
    hanging.add(res);
    res.on('close', () => hanging.delete(res));
    res.writeHead = (() => res) as typeof res.writeHead;
    res.end = (() => res) as typeof res.end;
  };

  /** Reduces positional and named arguments to one Call, checking them as Python would. */
  const toCall = (model: string, method: string, ids: unknown, positional: unknown[], named: Row): Call => {
    if (method.startsWith('_')) {
      throw accessError(`Private methods (such as '${model}.${method}') cannot be called remotely.`);
    }
    if (!knownModel(model)) throw userError(`Object ${model} doesn't exist`);
    const sig = methodSignature(model, method);
    if (!sig) {
      throw new OdooException(
        'builtins.AttributeError',
        `The method '${model}.${method}' does not exist`,
        500,
      );
    }
    const context = (named.context && typeof named.context === 'object' ? named.context : {}) as Row;
    const kwargs: Row = {};
    if (positional.length > sig.params.length) {
      throw typeError(
        `${method}() takes ${sig.params.length + 1} positional arguments but ${positional.length + 1} were given`,
      );
    }
    positional.forEach((v, i) => {
      kwargs[sig.params[i]!] = v;
    });
    for (const [k, v] of Object.entries(named)) {
      if (k === 'context') continue;
      if (!sig.params.includes(k)) throw typeError(`${method}() got an unexpected keyword argument '${k}'`);
      if (k in kwargs) throw typeError(`${method}() got multiple values for argument '${k}'`);
      kwargs[k] = v;
    }
    let recordIds: number[] = [];
    if (sig.onRecords) {
      const list = typeof ids === 'number' ? [ids] : ids;
      if (!Array.isArray(list) || list.some((id) => typeof id !== 'number' || !Number.isInteger(id))) {
        throw typeError(
          `${model}.${method}: the record ids must be a list of integers, got ${JSON.stringify(ids)}`,
        );
      }
      recordIds = list as number[];
    }
    return { model, method, ids: recordIds, kwargs, context };
  };

  // ---------------------------------------------------------------- JSON-RPC

  const jsonrpc = (res: ServerResponse, body: Row, seen: SeenCall) => {
    const id = body.id ?? null;
    const params = (body.params ?? {}) as Row;
    const service = String(params.service ?? '');
    const method = String(params.method ?? '');
    const args = Array.isArray(params.args) ? (params.args as unknown[]) : [];
    let context: Row = {};
    const reply = (result: unknown) => json(res, 200, { jsonrpc: '2.0', id, result });
    try {
      if (service === 'common' && method === 'version') return reply(versionInfo(version));
      if (service === 'common' && (method === 'login' || method === 'authenticate')) {
        if (args[0] !== database)
          throw new OdooException(
            'psycopg2.OperationalError',
            `FATAL:  database "${String(args[0])}" does not exist`,
            500,
          );
        const user = byPassword(args[1], args[2]);
        return reply(user ? user.id : false);
      }
      if (service === 'db' && method === 'list') return reply([database]);
      if (service === 'db' && method === 'server_version') return reply(version);
      if (service === 'object' && (method === 'execute_kw' || method === 'execute')) {
        const [dbName, uid, password, model, modelMethod] = args;
        if (dbName !== database)
          throw new OdooException(
            'psycopg2.OperationalError',
            `FATAL:  database "${String(dbName)}" does not exist`,
            500,
          );
        const user = users.find((u) => u.id === uid);
        if (!user || !byPassword(user.login, password)) throw accessDenied();
        const rest = args.slice(5);
        let positional: unknown[];
        let named: Row;
        if (method === 'execute_kw') {
          positional = Array.isArray(rest[0]) ? (rest[0] as unknown[]) : [];
          named = rest[1] && typeof rest[1] === 'object' ? (rest[1] as Row) : {};
        } else {
          positional = rest;
          named = {};
        }
        if (typeof named.context === 'object' && named.context) context = named.context as Row;
        const m = String(model);
        const mm = String(modelMethod);
        const sig = methodSignature(m, mm);
        // The record ids are the first positional argument unless the method is @api.model.
        const ids = sig?.onRecords ? positional[0] : undefined;
        const call = toCall(m, mm, ids, sig?.onRecords ? positional.slice(1) : positional, named);
        const result = db.execute(user, call);
        log(`jsonrpc ${user.login} ${m}.${mm} ok`);
        return reply(result);
      }
      throw new OdooException('builtins.NameError', `Unknown service/method: ${service}.${method}`, 500);
    } catch (e) {
      log(`jsonrpc ${seen.model ?? service}.${seen.method ?? method}: ${e instanceof Error ? e.message : e}`);
      json(res, 200, {
        jsonrpc: '2.0',
        id,
        error: { code: 200, message: 'Odoo Server Error', data: serialize(e, context) },
      });
    }
  };

  // ---------------------------------------------------------------- JSON-2

  const json2Error = (res: ServerResponse, status: number, name: string, message: string) =>
    json(res, status, {
      name,
      message,
      arguments: [message, status],
      context: {},
      debug: `Traceback (most recent call last):\n  (test Odoo server)\n${name}: ${status}: ${message}\n`,
    });

  const json2 = (req: IncomingMessage, res: ServerResponse, model: string, method: string, body: unknown) => {
    const auth = /^bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''));
    const user = auth?.[1] ? byKey(auth[1]) : undefined;
    if (!user) return json2Error(res, 401, 'werkzeug.exceptions.Unauthorized', 'Invalid apikey');
    const dbHeader = req.headers['x-odoo-database'];
    if (dbHeader !== undefined && dbHeader !== database) {
      return json2Error(
        res,
        404,
        'werkzeug.exceptions.NotFound',
        `database ${JSON.stringify(dbHeader)} not found`,
      );
    }
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return json2Error(
        res,
        400,
        'werkzeug.exceptions.BadRequest',
        'the request body must be application/json',
      );
    }
    if (!knownModel(model))
      return json2Error(
        res,
        404,
        'werkzeug.exceptions.NotFound',
        `the model ${JSON.stringify(model)} does not exist`,
      );
    if (!methodSignature(model, method) && !method.startsWith('_')) {
      return json2Error(
        res,
        404,
        'werkzeug.exceptions.NotFound',
        `the method ${JSON.stringify(method)} does not exist on ${model}`,
      );
    }
    const named = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Row;
    const { ids, ...rest } = named;
    const context = (rest.context && typeof rest.context === 'object' ? rest.context : {}) as Row;
    try {
      const call = toCall(model, method, ids ?? [], [], rest);
      let result = db.execute(user, call);
      // JSON-2 serialises a returned recordset as its ids: create answers a list.
      if (method === 'create' && typeof result === 'number') result = [result];
      log(`json2 ${user.login} ${model}.${method} ok`);
      json(res, 200, result);
    } catch (e) {
      log(`json2 ${user.login} ${model}.${method}: ${e instanceof Error ? e.message : e}`);
      json(res, e instanceof OdooException ? e.httpStatus : 500, serialize(e, context));
    }
  };

  // ---------------------------------------------------------------- report

  const report = (req: IncomingMessage, res: ServerResponse, idList: string) => {
    const auth = /^bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''));
    const user = auth?.[1] ? byKey(auth[1]) : undefined;
    if (!user) {
      // Odoo's auth='user' routes send an anonymous visitor to the login page.
      res.writeHead(303, { location: `/web/login?redirect=${encodeURIComponent(req.url ?? '/')}` });
      res.end();
      return;
    }
    const ids = idList.split(',').map(Number);
    const summaries = ids.map((id) => (Number.isInteger(id) ? db.invoiceSummary(id) : undefined));
    if (summaries.some((s) => !s)) {
      return send(
        res,
        404,
        'text/html; charset=utf-8',
        htmlPage(404, 'Not Found', 'Record does not exist or has been deleted.'),
      );
    }
    const lines: string[] = [];
    for (const s of summaries) {
      lines.push(`Invoice ${s!.name}`, `Customer: ${s!.partner}`, `Status: ${s!.state}`);
      for (const l of s!.lines) lines.push(`  ${l.label}: ${l.amount.toFixed(2)} ${s!.currency}`);
      lines.push(`Total: ${s!.total.toFixed(2)} ${s!.currency}`, '');
    }
    const pdf = textPdf(summaries.map((s) => s!.name).join(', '), lines);
    send(res, 200, 'application/pdf', pdf);
  };

  // ---------------------------------------------------------------- routing

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          reject(new Error('request body too large'));
          req.destroy();
        } else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    const text = req.method === 'POST' ? await readBody(req) : '';
    let body: unknown;
    let parseError: string | undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch (e) {
        parseError = e instanceof Error ? e.message : String(e);
      }
    }
    const json2Match = /^\/json\/2\/([^/]+)\/([^/]+)$/.exec(path);
    const seen: SeenCall = { protocol: 'http', path };
    if (json2Match) Object.assign(seen, { protocol: 'json2', model: json2Match[1], method: json2Match[2] });
    if (path === '/jsonrpc' && body && typeof body === 'object') {
      const params = ((body as Row).params ?? {}) as Row;
      const args = Array.isArray(params.args) ? params.args : [];
      Object.assign(seen, { protocol: 'jsonrpc', service: params.service });
      if (params.service === 'object') Object.assign(seen, { model: args[3], method: args[4] });
      else Object.assign(seen, { method: params.method });
    }
    if (path.startsWith('/__test__/')) return testRoute(req, res, path, body);
    seen.login = callerOf(req, seen, body);
    calls.push(seen);
    const fault = takeFault(seen);
    if (fault === 'hang_after') {
      seen.fault = fault;
      log(`fault hang_after for ${seen.path} ${seen.model ?? ''} ${seen.method ?? ''}`);
      swallowAnswer(res);
    } else if (fault) {
      seen.fault = fault;
      const echo = `${req.method} ${path} authorization: ${req.headers.authorization ?? '-'} ${text.slice(0, 400)}`;
      return answerFault(res, fault, seen, echo);
    }

    if (req.method === 'GET' && path === '/web/health') return json(res, 200, { status: 'pass' });
    if (req.method === 'GET' && path === '/web/version') {
      const info = versionInfo(version);
      return json(res, 200, { version_info: info.server_version_info, version });
    }
    if (req.method === 'POST' && (path === '/jsonrpc' || path === '/web/webclient/version_info')) {
      if (parseError !== undefined || !body || typeof body !== 'object') {
        return json(res, 400, {
          jsonrpc: '2.0',
          id: null,
          error: { code: 400, message: `Invalid JSON data: ${parseError ?? 'empty body'}`, data: {} },
        });
      }
      if (path === '/web/webclient/version_info') {
        return json(res, 200, { jsonrpc: '2.0', id: (body as Row).id ?? null, result: versionInfo(version) });
      }
      return jsonrpc(res, body as Row, seen);
    }
    if (json2Match && major >= 19) {
      if (req.method !== 'POST')
        return json2Error(
          res,
          405,
          'werkzeug.exceptions.MethodNotAllowed',
          'The method is not allowed for the requested URL.',
        );
      if (parseError !== undefined)
        return json2Error(
          res,
          400,
          'werkzeug.exceptions.BadRequest',
          `could not parse the body as json: ${parseError}`,
        );
      return json2(req, res, decodeURIComponent(json2Match[1]!), decodeURIComponent(json2Match[2]!), body);
    }
    const reportMatch = /^\/report\/pdf\/account\.report_invoice\/([0-9,]+)$/.exec(path);
    if (req.method === 'GET' && reportMatch) return report(req, res, reportMatch[1]!);
    send(
      res,
      404,
      'text/html; charset=utf-8',
      htmlPage(404, 'Not Found', 'The requested URL was not found on the server.'),
    );
  };

  const testRoute = (req: IncomingMessage, res: ServerResponse, path: string, body: unknown) => {
    if (!options.testRoutes)
      return send(res, 404, 'text/html; charset=utf-8', htmlPage(404, 'Not Found', 'not found'));
    if (req.method === 'POST' && path === '/__test__/fault') {
      const f = body as Fault;
      if (!f || !['status500', 'html', 'notjson', 'hang', 'hang_after'].includes(f.kind))
        return json(res, 400, { error: 'kind?' });
      server.inject(f);
      return json(res, 200, { armed: f });
    }
    if (req.method === 'GET' && path === '/__test__/calls') return json(res, 200, calls);
    send(res, 404, 'text/html; charset=utf-8', htmlPage(404, 'Not Found', 'not found'));
  };

  const http: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      log(`internal error: ${e instanceof Error ? e.stack : e}`);
      if (!res.headersSent)
        send(res, 500, 'text/html; charset=utf-8', htmlPage(500, 'Internal Server Error', 'internal error'));
      else res.destroy();
    });
  });
  const sockets = new Set<Socket>();
  http.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = http.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  const server: OdooTestServer = {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
    version,
    database,
    db,
    calls,
    inject(fault) {
      faults.push({ ...fault, count: fault.count ?? 1 });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        http.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
  return server;
}
