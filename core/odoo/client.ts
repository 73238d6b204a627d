/**
 * The Odoo client both agents use: one interface over JSON-2 (Odoo 19+) and JSON-RPC (Odoo 17-18),
 * chosen by ODOO_PROTOCOL or, with `auto`, by the version the server reports. Typed errors (errors.ts),
 * a timeout on every request, and retries with backoff only for reads: a create, write, action_post or
 * payment is sent once, and a failure whose outcome is unknown says so (`details.outcomeUnknown`).
 *
 * Invoice PDFs: Odoo renders them at GET /report/pdf/account.report_invoice/<id>, a web route for
 * logged-in users. This client sends the API key there as `Authorization: bearer` with
 * `X-Odoo-Database` (what the test server accepts). A stock Odoo accepts API keys only on its RPC
 * endpoints, so against a real server this route needs a web session (or a bearer-enabled report
 * route added by a module); see invoicePdf().
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../config.js';
import {
  excerpt,
  OdooAccessError,
  OdooError,
  OdooMissingError,
  type OdooProtocol,
  OdooServerError,
} from './errors.js';
import type { OdooSettings } from './settings.js';
import {
  type FetchLike,
  Json2Transport,
  JsonRpcTransport,
  type OdooCall,
  type OdooTransport,
  request,
  type TransportSettings,
} from './transport.js';

export * from './errors.js';
export { loadOdooSettings, type OdooSettings } from './settings.js';
export type { OdooCall } from './transport.js';

/** Methods that only read: the only ones retried. */
export const READ_METHODS: ReadonlySet<string> = new Set([
  'search_read',
  'read',
  'search',
  'search_count',
  'fields_get',
  'name_search',
  'context_get',
]);

/** An Odoo search domain: leaves `[field, operator, value]` and the prefix operators `&`, `|`, `!`. */
export type Domain = ReadonlyArray<'&' | '|' | '!' | readonly [string, string, unknown]>;

/** A many2one value as Odoo returns it: `[id, display name]`, or false when empty. */
export type Many2one = [number, string] | false;

export interface OdooVersion {
  /** e.g. "19.0", "saas~18.3", "17.0+e" */
  version: string;
  major: number;
}

export interface OdooClientOptions {
  fetch?: FetchLike;
  /** Waits between read retries (tests inject a fast one). */
  sleep?: (ms: number) => Promise<void>;
  /** First backoff delay; doubled per attempt, plus up to 25 % jitter. Default 250 ms. */
  backoffMs?: number;
  userAgent?: string;
}

export interface CallOptions {
  context?: Record<string, unknown>;
  signal?: AbortSignal;
}

export interface SearchOptions extends CallOptions {
  limit?: number;
  offset?: number;
  order?: string;
}

/** The protocol for a server version: JSON-2 from Odoo 19 on. */
export function protocolForVersion(major: number): OdooProtocol {
  return major >= 19 ? 'json2' : 'jsonrpc';
}

function parseVersion(version: string): OdooVersion {
  const m = /(\d+)(?:\.\d+)?/.exec(version.replace(/^saas~/, ''));
  if (!m?.[1])
    throw new OdooServerError(`Odoo reported a version that is not one: ${JSON.stringify(version)}`);
  return { version, major: Number(m[1]) };
}

export class OdooClient {
  private readonly transportSettings: TransportSettings;
  private readonly pause: (ms: number) => Promise<void>;
  private readonly backoffMs: number;

  private constructor(
    readonly settings: OdooSettings,
    private readonly transport: OdooTransport,
    transportSettings: TransportSettings,
    options: OdooClientOptions,
  ) {
    this.transportSettings = transportSettings;
    this.pause = options.sleep ?? ((ms) => sleep(ms));
    this.backoffMs = options.backoffMs ?? 250;
  }

  get protocol(): OdooProtocol {
    return this.transport.protocol;
  }

  /** A client on the configured protocol; with `auto`, asks the server its version first. */
  static async connect(settings: OdooSettings, options: OdooClientOptions = {}): Promise<OdooClient> {
    const ts = OdooClient.transportSettings(settings, options);
    let protocol: OdooProtocol;
    if (settings.protocol === 'auto') {
      const { major } = await OdooClient.askVersion(ts, settings.readRetries, options);
      protocol = protocolForVersion(major);
    } else {
      protocol = settings.protocol;
    }
    if (protocol === 'jsonrpc' && !settings.login) {
      throw new ConfigError(
        `ODOO_LOGIN: required for JSON-RPC (the Odoo at ${settings.url} is older than 19, or ODOO_PROTOCOL=jsonrpc)`,
      );
    }
    const transport = protocol === 'json2' ? new Json2Transport(ts) : new JsonRpcTransport(ts);
    return new OdooClient(settings, transport, ts, options);
  }

  private static transportSettings(settings: OdooSettings, options: OdooClientOptions): TransportSettings {
    return {
      url: settings.url,
      database: settings.database,
      login: settings.login,
      apiKey: settings.apiKey,
      timeoutMs: settings.timeoutMs,
      fetch: options.fetch ?? fetch,
      userAgent: options.userAgent ?? 'fte-odoo-client',
    };
  }

  /**
   * The server's version: GET /web/version (Odoo's replacement of common.version), and where that route
   * does not exist, JSON-RPC common.version.
   */
  private static async askVersion(
    ts: TransportSettings,
    retries: number,
    options: OdooClientOptions,
    signal?: AbortSignal,
  ): Promise<OdooVersion> {
    const once = async (): Promise<OdooVersion> => {
      const answer = await request(
        ts,
        '/web/version',
        { method: 'GET', headers: { accept: 'application/json' } },
        { method: 'version', write: false },
        signal,
      );
      if (answer.status === 200 && /json/i.test(answer.contentType)) {
        try {
          const body = JSON.parse(answer.body.toString('utf8')) as { version?: unknown };
          if (typeof body.version === 'string') return parseVersion(body.version);
        } catch {
          // fall through to common.version
        }
      }
      if (answer.status >= 500) {
        throw new OdooServerError(
          `Odoo version: HTTP ${answer.status} from ${ts.url}/web/version: ${excerpt(answer.body.toString('utf8'), [ts.apiKey])}`,
          { method: 'version', status: answer.status },
        );
      }
      const rpc = new JsonRpcTransport(ts);
      const info = (await rpc.rpc(
        'common',
        'version',
        [],
        { method: 'common.version' },
        { write: false, signal },
      )) as {
        server_version?: unknown;
      };
      if (typeof info?.server_version !== 'string') {
        throw new OdooServerError('Odoo common.version: no server_version in the answer', {
          method: 'common.version',
        });
      }
      return parseVersion(info.server_version);
    };
    return retrying(true, retries, options.backoffMs ?? 250, options.sleep ?? ((ms) => sleep(ms)), once);
  }

  /** The server's version (a read: retried). */
  version(signal?: AbortSignal): Promise<OdooVersion> {
    return OdooClient.askVersion(
      this.transportSettings,
      this.settings.readRetries,
      { sleep: this.pause, backoffMs: this.backoffMs },
      signal,
    );
  }

  /**
   * Any model method: `ids` are the records (empty for model-level methods such as create or search),
   * `kwargs` its named arguments. Retried only when `method` is a read.
   */
  call<T = unknown>(
    model: string,
    method: string,
    ids: number[] | undefined,
    kwargs: Record<string, unknown> = {},
    options: CallOptions = {},
  ): Promise<T> {
    const read = READ_METHODS.has(method);
    const call: OdooCall = { model, method, ids, kwargs, context: options.context };
    const retries = this.settings.readRetries;
    // Logging in is a read even before a write: retried on its own, so a write is still sent only once.
    return retrying(true, retries, this.backoffMs, this.pause, () =>
      this.transport.prepare(options.signal),
    ).then(
      () =>
        retrying(read, read ? retries : 0, this.backoffMs, this.pause, () =>
          this.transport.execute(call, { write: !read, signal: options.signal }),
        ) as Promise<T>,
    );
  }

  searchRead<T extends Record<string, unknown> = Record<string, unknown>>(
    model: string,
    domain: Domain,
    fields: string[],
    options: SearchOptions = {},
  ): Promise<Array<T & { id: number }>> {
    return this.call(model, 'search_read', undefined, searchKwargs({ domain, fields }, options), options);
  }

  search(model: string, domain: Domain, options: SearchOptions = {}): Promise<number[]> {
    return this.call(model, 'search', undefined, searchKwargs({ domain }, options), options);
  }

  searchCount(model: string, domain: Domain, options: CallOptions = {}): Promise<number> {
    return this.call(model, 'search_count', undefined, { domain }, options);
  }

  read<T extends Record<string, unknown> = Record<string, unknown>>(
    model: string,
    ids: number[],
    fields: string[],
    options: CallOptions = {},
  ): Promise<Array<T & { id: number }>> {
    return this.call(model, 'read', ids, { fields }, options);
  }

  fieldsGet(model: string, attributes: string[] = ['string', 'type', 'relation'], options: CallOptions = {}) {
    return this.call<Record<string, Record<string, unknown>>>(
      model,
      'fields_get',
      undefined,
      { attributes },
      options,
    );
  }

  /** Creates one record; its id. Sent once, never retried. */
  async create(model: string, values: Record<string, unknown>, options: CallOptions = {}): Promise<number> {
    const result = await this.call<unknown>(model, 'create', undefined, { vals_list: [values] }, options);
    const id = Array.isArray(result) ? result[0] : result;
    if (typeof id !== 'number') {
      throw new OdooServerError(
        `Odoo ${model}.create: answered ${JSON.stringify(result)?.slice(0, 80)}, not an id`,
        {
          model,
          method: 'create',
          protocol: this.protocol,
        },
      );
    }
    return id;
  }

  /** Writes values on records. Sent once, never retried. */
  async write(model: string, ids: number[], values: Record<string, unknown>, options: CallOptions = {}) {
    return (await this.call<unknown>(model, 'write', ids, { vals: values }, options)) === true;
  }

  /**
   * The invoice PDF from Odoo's report route, with the API key as a bearer token (see the top of this
   * file). A read: retried. A redirect to /web/login means the server wants a web session.
   */
  async invoicePdf(invoiceId: number, signal?: AbortSignal): Promise<Buffer> {
    const details = { model: 'account.move', method: 'report_invoice', protocol: this.protocol } as const;
    const once = async (): Promise<Buffer> => {
      const answer = await request(
        this.transportSettings,
        `/report/pdf/account.report_invoice/${invoiceId}`,
        {
          method: 'GET',
          headers: {
            authorization: `bearer ${this.settings.apiKey}`,
            'x-odoo-database': this.settings.database,
          },
        },
        { ...details, write: false },
        signal,
      );
      if (answer.status === 200 && answer.body.subarray(0, 5).toString('latin1') === '%PDF-')
        return answer.body;
      if (answer.status >= 300 && answer.status < 400) {
        throw new OdooAccessError(
          `Odoo report: ${this.settings.url} sent the request to ${answer.location ?? 'a login page'}: the report route wants a logged-in web session, not an API key`,
          { ...details, status: answer.status },
        );
      }
      if (answer.status === 404) {
        throw new OdooMissingError(`Odoo report: invoice ${invoiceId} does not exist`, {
          ...details,
          status: 404,
        });
      }
      throw new OdooServerError(
        `Odoo report: no PDF for invoice ${invoiceId} (HTTP ${answer.status}, ${answer.contentType}): ${excerpt(answer.body.toString('utf8'), [this.settings.apiKey])}`,
        { ...details, status: answer.status },
      );
    };
    return retrying(true, this.settings.readRetries, this.backoffMs, this.pause, once);
  }
}

function searchKwargs(base: Record<string, unknown>, options: SearchOptions): Record<string, unknown> {
  const out = { ...base };
  if (options.limit !== undefined) out.limit = options.limit;
  if (options.offset !== undefined) out.offset = options.offset;
  if (options.order !== undefined) out.order = options.order;
  return out;
}

/** Runs `fn`; a read that failed with a retryable OdooError is tried again up to `retries` times. */
async function retrying<T>(
  read: boolean,
  retries: number,
  backoffMs: number,
  pause: (ms: number) => Promise<void>,
  fn: () => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!read || attempt >= retries || !(e instanceof OdooError) || !e.retryable) throw e;
      const delay = backoffMs * 2 ** attempt;
      await pause(delay + Math.floor(Math.random() * delay * 0.25));
    }
  }
}
