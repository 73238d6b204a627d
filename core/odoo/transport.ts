/**
 * The two wire protocols of Odoo's external API behind one interface (odoo/documentation,
 * content/developer/reference/external_api.rst):
 *   JSON-2 (Odoo 19+)   POST <url>/json/2/<model>/<method>, `Authorization: bearer <key>`,
 *                       `X-Odoo-Database`, body = the named arguments plus `ids` and `context`;
 *                       200 with the result, or 4xx/5xx with {name, message, arguments, context, debug}.
 *   JSON-RPC (17-18)    POST <url>/jsonrpc {jsonrpc, method: "call", params: {service, method, args}, id};
 *                       common.authenticate(db, login, key, {}) → uid or false, then
 *                       object.execute_kw(db, uid, key, model, method, args, kwargs); errors come with
 *                       HTTP 200 and error.data = {name, message, arguments, debug, context}.
 * Every request has a timeout (an AbortSignal covering the whole answer). No retries here: client.ts
 * decides what may be retried.
 */
import {
  excerpt,
  OdooAccessError,
  type OdooError,
  type OdooErrorDetails,
  type OdooProtocol,
  OdooServerError,
  OdooTimeoutError,
  odooErrorFor,
} from './errors.js';

export type FetchLike = typeof fetch;

/** One ORM call: the records (`ids`), the named arguments, the context. */
export interface OdooCall {
  model: string;
  method: string;
  ids?: number[];
  kwargs?: Record<string, unknown>;
  context?: Record<string, unknown>;
}

export interface OdooTransport {
  readonly protocol: OdooProtocol;
  /** What must happen before a call (JSON-RPC: log in); a read, so the client may retry it. */
  prepare(signal?: AbortSignal): Promise<void>;
  execute(call: OdooCall, options: { write: boolean; signal?: AbortSignal }): Promise<unknown>;
}

export interface TransportSettings {
  url: string;
  database: string;
  login?: string;
  apiKey: string;
  timeoutMs: number;
  fetch: FetchLike;
  userAgent: string;
}

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: Buffer;
  location?: string;
}

/**
 * One HTTP request with the timeout; a timeout, a refused or cut connection become typed errors. A write
 * whose request may have reached Odoo is marked `outcomeUnknown`.
 */
export async function request(
  s: TransportSettings,
  path: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
  details: OdooErrorDetails & { write: boolean },
  signal?: AbortSignal,
): Promise<HttpAnswer> {
  const { write, ...where } = details;
  const timeout = AbortSignal.timeout(s.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  const what = where.model ? `${where.model}.${where.method}` : `${init.method} ${path}`;
  try {
    const res = await s.fetch(`${s.url}${path}`, {
      method: init.method,
      headers: { 'user-agent': s.userAgent, ...init.headers },
      body: init.body,
      signal: combined,
      redirect: 'manual',
    });
    const body = Buffer.from(await res.arrayBuffer());
    return {
      status: res.status,
      contentType: res.headers.get('content-type') ?? '',
      body,
      location: res.headers.get('location') ?? undefined,
    };
  } catch (e) {
    if (timeout.aborted && !signal?.aborted) {
      throw new OdooTimeoutError(
        `Odoo ${what}: no answer from ${s.url} within ${s.timeoutMs} ms${write ? ' (the change may or may not have been applied: check Odoo before trying again)' : ''}`,
        { ...where, outcomeUnknown: write },
      );
    }
    if (signal?.aborted) throw signal.reason ?? e;
    const code = ((e as { cause?: { code?: string } }).cause?.code ?? (e as { code?: string }).code) || '';
    // Refused or unresolved: the request never left; anything else may have reached Odoo.
    const notSent = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code);
    throw new OdooServerError(
      `Odoo ${what}: cannot reach ${s.url} (${code || (e instanceof Error ? e.message : String(e))})`,
      { ...where, outcomeUnknown: write && !notSent },
      e,
    );
  }
}

/** A non-JSON or malformed answer as an OdooServerError with a short, key-free excerpt. */
function badAnswer(
  s: TransportSettings,
  answer: HttpAnswer,
  details: OdooErrorDetails,
  why: string,
): OdooError {
  const what = details.model ? `${details.model}.${details.method}` : (details.method ?? 'call');
  return new OdooServerError(
    `Odoo ${what}: ${why} (HTTP ${answer.status}, ${answer.contentType || 'no content type'}): ${excerpt(answer.body.toString('utf8'), [s.apiKey])}`,
    { ...details, status: answer.status },
  );
}

function parseJson(answer: HttpAnswer): { ok: true; value: unknown } | { ok: false } {
  if (!/\bjson\b/i.test(answer.contentType)) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(answer.body.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

interface OdooErrorBody {
  name?: unknown;
  message?: unknown;
}

export class Json2Transport implements OdooTransport {
  readonly protocol = 'json2' as const;

  constructor(private readonly s: TransportSettings) {}

  async prepare(): Promise<void> {}

  async execute(call: OdooCall, options: { write: boolean; signal?: AbortSignal }): Promise<unknown> {
    const details: OdooErrorDetails = { protocol: 'json2', model: call.model, method: call.method };
    const body: Record<string, unknown> = { ...(call.kwargs ?? {}) };
    if (call.ids) body.ids = call.ids;
    if (call.context) body.context = call.context;
    const answer = await request(
      this.s,
      `/json/2/${encodeURIComponent(call.model)}/${encodeURIComponent(call.method)}`,
      {
        method: 'POST',
        headers: {
          authorization: `bearer ${this.s.apiKey}`,
          'content-type': 'application/json; charset=utf-8',
          'x-odoo-database': this.s.database,
        },
        body: JSON.stringify(body),
      },
      { ...details, write: options.write },
      options.signal,
    );
    const parsed = parseJson(answer);
    if (answer.status === 200) {
      if (parsed.ok) return parsed.value;
      const error = badAnswer(this.s, answer, details, 'the answer is not JSON');
      error.details.outcomeUnknown = options.write;
      throw error;
    }
    const outcomeUnknown = options.write && answer.status >= 500;
    if (parsed.ok && parsed.value && typeof parsed.value === 'object') {
      const err = parsed.value as OdooErrorBody;
      const name = typeof err.name === 'string' ? err.name : undefined;
      const message = typeof err.message === 'string' ? err.message : `HTTP ${answer.status}`;
      // Odoo's own error body: its transaction was rolled back (external_api.rst, "Transaction").
      throw odooErrorFor(name, redactKey(message, this.s.apiKey), {
        ...details,
        status: answer.status,
        outcomeUnknown: outcomeUnknown && name === undefined,
      });
    }
    if (answer.status === 404) {
      throw badAnswer(
        this.s,
        answer,
        details,
        'no JSON-2 endpoint here (Odoo older than 19? set ODOO_PROTOCOL=jsonrpc)',
      );
    }
    if (answer.status === 401 || answer.status === 403) {
      throw new OdooAccessError(`Odoo ${call.model}.${call.method}: refused (HTTP ${answer.status})`, {
        ...details,
        status: answer.status,
      });
    }
    const error = badAnswer(this.s, answer, details, 'an error page instead of an Odoo answer');
    error.details.outcomeUnknown = outcomeUnknown;
    throw error;
  }
}

function redactKey(text: string, key: string): string {
  return key.length >= 4 ? text.split(key).join('[redacted]') : text;
}

interface JsonRpcAnswer {
  result?: unknown;
  error?: { code?: unknown; message?: unknown; data?: { name?: unknown; message?: unknown } };
}

export class JsonRpcTransport implements OdooTransport {
  readonly protocol = 'jsonrpc' as const;
  private uid: number | undefined;
  private nextId = 1;

  constructor(private readonly s: TransportSettings) {}

  /** One JSON-RPC call to a service (common, object, db). */
  async rpc(
    service: string,
    method: string,
    args: unknown[],
    details: OdooErrorDetails,
    options: { write: boolean; signal?: AbortSignal },
  ): Promise<unknown> {
    const all: OdooErrorDetails = { protocol: 'jsonrpc', ...details };
    const answer = await request(
      this.s,
      '/jsonrpc',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          method: 'call',
          params: { service, method, args },
          id: this.nextId++,
        }),
      },
      { ...all, write: options.write },
      options.signal,
    );
    const parsed = parseJson(answer);
    if (!parsed.ok || !parsed.value || typeof parsed.value !== 'object') {
      const error = badAnswer(
        this.s,
        answer,
        all,
        answer.status === 200 ? 'the answer is not JSON-RPC' : 'an error page instead of an Odoo answer',
      );
      error.details.outcomeUnknown = options.write;
      throw error;
    }
    const body = parsed.value as JsonRpcAnswer;
    if (body.error) {
      const data = body.error.data ?? {};
      const name = typeof data.name === 'string' ? data.name : undefined;
      const message =
        typeof data.message === 'string'
          ? data.message
          : typeof body.error.message === 'string'
            ? body.error.message
            : 'error without a message';
      throw odooErrorFor(name, redactKey(message, this.s.apiKey), { ...all, status: answer.status });
    }
    if (answer.status !== 200 || !('result' in body)) {
      const error = badAnswer(this.s, answer, all, 'a JSON-RPC answer without a result');
      error.details.outcomeUnknown = options.write;
      throw error;
    }
    return body.result;
  }

  async prepare(signal?: AbortSignal): Promise<void> {
    await this.authenticate(signal);
  }

  /** common.authenticate once; the uid is kept for later calls. */
  async authenticate(signal?: AbortSignal): Promise<number> {
    if (this.uid !== undefined) return this.uid;
    if (!this.s.login) {
      throw new OdooAccessError('Odoo JSON-RPC needs ODOO_LOGIN (the login that owns the API key)', {
        protocol: 'jsonrpc',
      });
    }
    const uid = await this.rpc(
      'common',
      'authenticate',
      [this.s.database, this.s.login, this.s.apiKey, {}],
      { method: 'common.authenticate' },
      { write: false, signal },
    );
    if (typeof uid !== 'number' || uid <= 0) {
      throw new OdooAccessError(
        `Odoo refused the login ${JSON.stringify(this.s.login)} on database ${JSON.stringify(this.s.database)}: check ODOO_LOGIN and the API key`,
        { protocol: 'jsonrpc', method: 'common.authenticate' },
      );
    }
    this.uid = uid;
    return uid;
  }

  async execute(call: OdooCall, options: { write: boolean; signal?: AbortSignal }): Promise<unknown> {
    const uid = await this.authenticate(options.signal);
    const kwargs: Record<string, unknown> = { ...(call.kwargs ?? {}) };
    const args: unknown[] = [];
    if (call.ids) args.push(call.ids);
    // Odoo's RPC layer reads create's values from the first positional argument.
    if (call.method === 'create' && 'vals_list' in kwargs) {
      args.push(kwargs.vals_list);
      delete kwargs.vals_list;
    }
    if (call.context) kwargs.context = call.context;
    return this.rpc(
      'object',
      'execute_kw',
      [this.s.database, uid, this.s.apiKey, call.model, call.method, args, kwargs],
      { model: call.model, method: call.method },
      options,
    );
  }
}
