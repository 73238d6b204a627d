/**
 * The in-memory database of the test Odoo server: a few models with Odoo's field semantics and the
 * accounting state machine the fte agents drive. NOT Odoo: no taxes, no journal items or accounts
 * behind an invoice, no multi-company, no record rules beyond the three groups below. Both protocols of
 * server.ts call `execute()`; errors are OdooException with Odoo's exception name and JSON-2 HTTP status.
 */
import { compileDomain, DomainError, type Row, sortRows } from './domain.js';

/** An exception as Odoo's RPC layer serialises it: fully qualified name, message, HTTP status (JSON-2). */
export class OdooException extends Error {
  constructor(
    readonly odooName: string,
    message: string,
    readonly httpStatus: number,
  ) {
    super(message);
  }
}

// Statuses are odoo/exceptions.py's `http_status` (UserError 422 and its subclasses), as Odoo 19's JSON-2
// dispatcher answers them; anything else is a 500.
export const userError = (m: string) => new OdooException('odoo.exceptions.UserError', m, 422);
export const validationError = (m: string) => new OdooException('odoo.exceptions.ValidationError', m, 422);
export const accessError = (m: string) => new OdooException('odoo.exceptions.AccessError', m, 403);
export const accessDenied = () => new OdooException('odoo.exceptions.AccessDenied', 'Access Denied', 403);
export const missingError = (m: string) => new OdooException('odoo.exceptions.MissingError', m, 404);
export const valueError = (m: string) => new OdooException('builtins.ValueError', m, 500);
export const typeError = (m: string) => new OdooException('builtins.TypeError', m, 500);

/**
 * What a user may do beyond reading: `draft` creates and edits partners, products and draft moves;
 * `post` posts and resets moves; `pay` registers payments. An admin has all three.
 */
export type Group = 'draft' | 'post' | 'pay';

export interface OdooUser {
  id: number;
  login: string;
  name: string;
  /** For JSON-RPC, Odoo accepts the password or an API key where a password goes. */
  password?: string;
  apiKeys: string[];
  groups: Group[];
}

const GROUP_LABEL: Record<Group, string> = {
  draft: 'Invoicing/Billing (drafts)',
  post: 'Accounting/Billing',
  pay: 'Accounting/Payments',
};

type FieldSpec =
  | { type: 'char' | 'text' | 'date'; string: string; required?: boolean }
  | { type: 'integer' | 'float' | 'monetary' | 'boolean'; string: string }
  | { type: 'selection'; string: string; selection: [string, string][] }
  | { type: 'many2one'; string: string; relation: string; required?: boolean }
  | { type: 'one2many'; string: string; relation: string; inverse: string }
  | { type: 'many2many'; string: string; relation: string };

interface ModelSpec {
  description: string;
  fields: Record<string, FieldSpec>;
  /** Fields computed on read (readonly). */
  computed?: Record<string, (db: OdooDatabase, rec: Row) => unknown>;
  defaults?: (db: OdooDatabase, vals: Row, context: Row) => Row;
  displayName: (db: OdooDatabase, rec: Row) => string;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

const MOVE_TYPES: [string, string][] = [
  ['entry', 'Journal Entry'],
  ['out_invoice', 'Customer Invoice'],
  ['out_refund', 'Customer Credit Note'],
  ['in_invoice', 'Vendor Bill'],
  ['in_refund', 'Vendor Credit Note'],
];
const JOURNAL_OF: Record<string, number> = { out_invoice: 1, out_refund: 1, in_invoice: 2, in_refund: 2 };
const PREFIX_OF: Record<string, string> = {
  out_invoice: 'INV',
  out_refund: 'RINV',
  in_invoice: 'BILL',
  in_refund: 'RBILL',
  entry: 'MISC',
};

const MODELS: Record<string, ModelSpec> = {
  'res.users': {
    description: 'User',
    fields: { name: { type: 'char', string: 'Name' }, login: { type: 'char', string: 'Login' } },
    displayName: (_db, r) => String(r.name),
  },
  'res.currency': {
    description: 'Currency',
    fields: { name: { type: 'char', string: 'Currency' }, symbol: { type: 'char', string: 'Symbol' } },
    displayName: (_db, r) => String(r.name),
  },
  'account.journal': {
    description: 'Journal',
    fields: {
      name: { type: 'char', string: 'Journal Name' },
      code: { type: 'char', string: 'Short Code' },
      type: {
        type: 'selection',
        string: 'Type',
        selection: [
          ['sale', 'Sales'],
          ['purchase', 'Purchase'],
          ['bank', 'Bank'],
        ],
      },
    },
    displayName: (_db, r) => String(r.name),
  },
  'res.partner': {
    description: 'Contact',
    fields: {
      name: { type: 'char', string: 'Name', required: true },
      email: { type: 'char', string: 'Email' },
      phone: { type: 'char', string: 'Phone' },
      vat: { type: 'char', string: 'Tax ID' },
      street: { type: 'char', string: 'Street' },
      city: { type: 'char', string: 'City' },
      zip: { type: 'char', string: 'Zip' },
      is_company: { type: 'boolean', string: 'Is a Company' },
      customer_rank: { type: 'integer', string: 'Customer Rank' },
      supplier_rank: { type: 'integer', string: 'Supplier Rank' },
      active: { type: 'boolean', string: 'Active' },
      comment: { type: 'text', string: 'Notes' },
    },
    defaults: () => ({ active: true, is_company: false, customer_rank: 0, supplier_rank: 0 }),
    displayName: (_db, r) => String(r.name),
  },
  'product.product': {
    description: 'Product Variant',
    fields: {
      name: { type: 'char', string: 'Name', required: true },
      default_code: { type: 'char', string: 'Internal Reference' },
      list_price: { type: 'float', string: 'Sales Price' },
      standard_price: { type: 'float', string: 'Cost' },
      type: {
        type: 'selection',
        string: 'Product Type',
        selection: [
          ['consu', 'Goods'],
          ['service', 'Service'],
          ['combo', 'Combo'],
        ],
      },
      active: { type: 'boolean', string: 'Active' },
    },
    defaults: () => ({ list_price: 1, standard_price: 0, type: 'consu', active: true }),
    displayName: (_db, r) => (r.default_code ? `[${r.default_code}] ${r.name}` : String(r.name)),
  },
  'account.move': {
    description: 'Journal Entry',
    fields: {
      name: { type: 'char', string: 'Number' },
      move_type: { type: 'selection', string: 'Type', selection: MOVE_TYPES },
      state: {
        type: 'selection',
        string: 'Status',
        selection: [
          ['draft', 'Draft'],
          ['posted', 'Posted'],
          ['cancel', 'Cancelled'],
        ],
      },
      partner_id: { type: 'many2one', string: 'Partner', relation: 'res.partner' },
      journal_id: { type: 'many2one', string: 'Journal', relation: 'account.journal' },
      currency_id: { type: 'many2one', string: 'Currency', relation: 'res.currency' },
      date: { type: 'date', string: 'Date' },
      invoice_date: { type: 'date', string: 'Invoice/Bill Date' },
      invoice_date_due: { type: 'date', string: 'Due Date' },
      ref: { type: 'char', string: 'Reference' },
      payment_reference: { type: 'char', string: 'Payment Reference' },
      invoice_origin: { type: 'char', string: 'Origin' },
      narration: { type: 'text', string: 'Terms and Conditions' },
      invoice_line_ids: {
        type: 'one2many',
        string: 'Invoice lines',
        relation: 'account.move.line',
        inverse: 'move_id',
      },
      amount_untaxed: { type: 'monetary', string: 'Untaxed Amount' },
      amount_tax: { type: 'monetary', string: 'Tax' },
      amount_total: { type: 'monetary', string: 'Total' },
      amount_residual: { type: 'monetary', string: 'Amount Due' },
      payment_state: {
        type: 'selection',
        string: 'Payment Status',
        selection: [
          ['not_paid', 'Not Paid'],
          ['partial', 'Partially Paid'],
          ['paid', 'Paid'],
        ],
      },
      matched_payment_ids: { type: 'many2many', string: 'Payments', relation: 'account.payment' },
    },
    computed: {
      amount_untaxed: (db, r) => db.moveTotal(r),
      amount_tax: () => 0,
      amount_total: (db, r) => db.moveTotal(r),
      amount_residual: (db, r) => db.moveResidual(r),
      payment_state: (db, r) => db.movePaymentState(r),
      matched_payment_ids: (_db, r) => [...new Set((r._applied as Applied[]).map((a) => a.payment))],
    },
    defaults: (db, vals) => {
      const type = typeof vals.move_type === 'string' ? vals.move_type : 'entry';
      return {
        name: '/',
        move_type: 'entry',
        state: 'draft',
        journal_id: JOURNAL_OF[type] ?? 1,
        currency_id: db.companyCurrency,
        date: db.today(),
      };
    },
    displayName: (_db, r) => {
      if (r.name && r.name !== '/') return String(r.name);
      const label =
        r.move_type === 'in_invoice'
          ? 'Draft Bill'
          : r.move_type === 'entry'
            ? 'Draft Entry'
            : 'Draft Invoice';
      return `${label} (* ${r.id})`;
    },
  },
  'account.move.line': {
    description: 'Journal Item',
    fields: {
      move_id: { type: 'many2one', string: 'Journal Entry', relation: 'account.move', required: true },
      product_id: { type: 'many2one', string: 'Product', relation: 'product.product' },
      name: { type: 'char', string: 'Label' },
      quantity: { type: 'float', string: 'Quantity' },
      price_unit: { type: 'float', string: 'Unit Price' },
      discount: { type: 'float', string: 'Discount (%)' },
      price_subtotal: { type: 'monetary', string: 'Subtotal' },
      price_total: { type: 'monetary', string: 'Total' },
    },
    computed: {
      price_subtotal: (_db, r) => lineSubtotal(r),
      price_total: (_db, r) => lineSubtotal(r),
    },
    defaults: () => ({ quantity: 1, discount: 0 }),
    displayName: (db, r) => `${db.displayName('account.move', r.move_id as number)} ${r.name || ''}`.trim(),
  },
  'account.payment': {
    description: 'Payments',
    fields: {
      name: { type: 'char', string: 'Number' },
      state: {
        type: 'selection',
        string: 'Status',
        selection: [
          ['draft', 'Draft'],
          ['in_process', 'In Process'],
          ['paid', 'Paid'],
          ['canceled', 'Canceled'],
        ],
      },
      payment_type: {
        type: 'selection',
        string: 'Payment Type',
        selection: [
          ['outbound', 'Send'],
          ['inbound', 'Receive'],
        ],
      },
      partner_type: {
        type: 'selection',
        string: 'Partner Type',
        selection: [
          ['customer', 'Customer'],
          ['supplier', 'Vendor'],
        ],
      },
      partner_id: { type: 'many2one', string: 'Customer/Vendor', relation: 'res.partner' },
      amount: { type: 'monetary', string: 'Amount' },
      currency_id: { type: 'many2one', string: 'Currency', relation: 'res.currency' },
      journal_id: { type: 'many2one', string: 'Journal', relation: 'account.journal' },
      date: { type: 'date', string: 'Date' },
      memo: { type: 'char', string: 'Memo' },
      invoice_ids: { type: 'many2many', string: 'Invoices', relation: 'account.move' },
    },
    defaults: (db) => ({
      name: '/',
      state: 'draft',
      payment_type: 'inbound',
      partner_type: 'customer',
      currency_id: db.companyCurrency,
      journal_id: 3,
      date: db.today(),
      invoice_ids: [],
    }),
    displayName: (_db, r) => (r.name && r.name !== '/' ? String(r.name) : `Draft Payment (* ${r.id})`),
  },
  'account.payment.register': {
    description: 'Pay',
    fields: {
      amount: { type: 'monetary', string: 'Amount' },
      payment_date: { type: 'date', string: 'Payment Date' },
      communication: { type: 'char', string: 'Memo' },
      journal_id: { type: 'many2one', string: 'Journal', relation: 'account.journal' },
      currency_id: { type: 'many2one', string: 'Currency', relation: 'res.currency' },
      partner_id: { type: 'many2one', string: 'Customer/Vendor', relation: 'res.partner' },
      payment_type: {
        type: 'selection',
        string: 'Payment Type',
        selection: [
          ['outbound', 'Send'],
          ['inbound', 'Receive'],
        ],
      },
      move_ids: { type: 'many2many', string: 'Invoices', relation: 'account.move' },
    },
    defaults: (db, _vals, context) => db.registerDefaults(context),
    displayName: (_db, r) => `account.payment.register,${r.id}`,
  },
};

interface Applied {
  payment: number;
  amount: number;
}

function lineSubtotal(line: Row): number {
  const qty = Number(line.quantity ?? 0);
  const price = Number(line.price_unit ?? 0);
  const discount = Number(line.discount ?? 0);
  return round2(qty * price * (1 - discount / 100));
}

/** A method the RPC layers can call: its parameter names (positional order) and whether it takes ids. */
export interface MethodSignature {
  onRecords: boolean;
  params: string[];
}

const GENERIC_METHODS: Record<string, MethodSignature> = {
  create: { onRecords: false, params: ['vals_list'] },
  read: { onRecords: true, params: ['fields', 'load'] },
  write: { onRecords: true, params: ['vals'] },
  unlink: { onRecords: true, params: [] },
  search: { onRecords: false, params: ['domain', 'offset', 'limit', 'order'] },
  search_read: { onRecords: false, params: ['domain', 'fields', 'offset', 'limit', 'order'] },
  search_count: { onRecords: false, params: ['domain', 'limit'] },
  fields_get: { onRecords: false, params: ['allfields', 'attributes'] },
  name_search: { onRecords: false, params: ['name', 'domain', 'operator', 'limit'] },
};
const MODEL_METHODS: Record<string, Record<string, MethodSignature>> = {
  'account.move': {
    action_post: { onRecords: true, params: [] },
    button_draft: { onRecords: true, params: [] },
    button_cancel: { onRecords: true, params: [] },
  },
  'account.payment': {
    action_post: { onRecords: true, params: [] },
  },
  'account.payment.register': {
    action_create_payments: { onRecords: true, params: [] },
  },
  'res.users': {
    context_get: { onRecords: false, params: [] },
  },
};

export function methodSignature(model: string, method: string): MethodSignature | undefined {
  if (!MODELS[model]) return undefined;
  return MODEL_METHODS[model]?.[method] ?? GENERIC_METHODS[method];
}

export function knownModel(model: string): boolean {
  return MODELS[model] !== undefined;
}

/** One call as both protocols reduce it: the records, the named arguments, the context. */
export interface Call {
  model: string;
  method: string;
  ids: number[];
  kwargs: Row;
  context: Row;
}

export interface DatabaseOptions {
  /** Today's date (YYYY-MM-DD) for sequence years, invoice and payment dates; default the real one. */
  today?: () => string;
  /** Currency code of the company; default EUR. */
  currency?: 'EUR' | 'USD';
}

export class OdooDatabase {
  private readonly tables = new Map<string, Map<number, Row>>();
  private readonly nextId = new Map<string, number>();
  private readonly sequences = new Map<string, number>();
  readonly today: () => string;
  readonly companyCurrency: number;

  constructor(
    readonly users: OdooUser[],
    options: DatabaseOptions = {},
  ) {
    this.today = options.today ?? (() => new Date().toISOString().slice(0, 10));
    for (const model of Object.keys(MODELS)) this.tables.set(model, new Map());
    for (const user of users) this.insert('res.users', { id: user.id, name: user.name, login: user.login });
    this.insert('res.currency', { name: 'EUR', symbol: '€' });
    this.insert('res.currency', { name: 'USD', symbol: '$' });
    this.companyCurrency = options.currency === 'USD' ? 2 : 1;
    this.insert('account.journal', { name: 'Customer Invoices', code: 'INV', type: 'sale' });
    this.insert('account.journal', { name: 'Vendor Bills', code: 'BILL', type: 'purchase' });
    this.insert('account.journal', { name: 'Bank', code: 'BNK1', type: 'bank' });
  }

  private table(model: string): Map<number, Row> {
    const t = this.tables.get(model);
    if (!t) throw new OdooException('builtins.KeyError', model, 500);
    return t;
  }

  private insert(model: string, row: Row): number {
    const table = this.table(model);
    const id = typeof row.id === 'number' ? row.id : (this.nextId.get(model) ?? 1);
    this.nextId.set(model, Math.max(this.nextId.get(model) ?? 1, id + 1));
    table.set(id, { ...row, id });
    return id;
  }

  /**
   * Runs one call as `user` in its own transaction, as Odoo does for every RPC call: on an error nothing
   * of it stays. The value is what Odoo returns (before the protocol's serialisation).
   */
  execute(user: OdooUser, call: Call): unknown {
    const saved = {
      tables: structuredClone(this.tables),
      nextId: new Map(this.nextId),
      sequences: new Map(this.sequences),
    };
    try {
      return this.run(user, call);
    } catch (e) {
      this.tables.clear();
      for (const [model, table] of saved.tables) this.tables.set(model, table);
      this.nextId.clear();
      for (const [k, v] of saved.nextId) this.nextId.set(k, v);
      this.sequences.clear();
      for (const [k, v] of saved.sequences) this.sequences.set(k, v);
      throw e;
    }
  }

  private run(user: OdooUser, call: Call): unknown {
    const { model, method, ids, kwargs, context } = call;
    switch (method) {
      case 'create': {
        const raw = kwargs.vals_list;
        const list = Array.isArray(raw) ? raw : [raw];
        if (list.some((v) => !v || typeof v !== 'object' || Array.isArray(v))) {
          throw typeError('create() argument vals_list must be a dict or a list of dicts');
        }
        const created = list.map((vals) => this.create(user, model, vals as Row, context));
        return Array.isArray(raw) ? created : created[0];
      }
      case 'read':
        return this.read(user, model, ids, asFields(kwargs.fields));
      case 'write':
        this.write(user, model, ids, (kwargs.vals ?? {}) as Row);
        return true;
      case 'unlink':
        this.unlink(user, model, ids);
        return true;
      case 'search':
        return this.search(model, kwargs.domain, kwargs);
      case 'search_read': {
        const found = this.search(model, kwargs.domain, kwargs);
        return this.read(user, model, found, asFields(kwargs.fields));
      }
      case 'search_count': {
        const found = this.search(model, kwargs.domain, {});
        return typeof kwargs.limit === 'number' ? Math.min(found.length, kwargs.limit) : found.length;
      }
      case 'fields_get':
        return this.fieldsGet(model, kwargs.attributes);
      case 'name_search': {
        const name = typeof kwargs.name === 'string' ? kwargs.name : '';
        const found = this.search(model, kwargs.domain, { limit: kwargs.limit ?? 100 }).filter((id) =>
          this.displayName(model, id).toLowerCase().includes(name.toLowerCase()),
        );
        return found.map((id) => [id, this.displayName(model, id)]);
      }
      case 'context_get':
        return { lang: 'en_US', tz: 'Europe/Brussels', uid: user.id };
      case 'action_post':
        return model === 'account.payment' ? this.postPayments(user, ids) : this.postMoves(user, ids);
      case 'button_draft':
        this.resetToDraft(user, ids);
        return false;
      case 'button_cancel':
        this.cancelMoves(user, ids);
        return false;
      case 'action_create_payments':
        return this.createRegisteredPayments(user, ids);
      default:
        throw new OdooException(
          'builtins.AttributeError',
          `The method '${method}' does not exist on the model '${model}'`,
          500,
        );
    }
  }

  // ------------------------------------------------------------------ generic ORM

  private spec(model: string): ModelSpec {
    const spec = MODELS[model];
    if (!spec) throw new OdooException('builtins.KeyError', model, 500);
    return spec;
  }

  private browse(model: string, ids: number[], user: OdooUser): Row[] {
    const table = this.table(model);
    const missing = ids.filter((id) => !table.has(id));
    if (missing.length > 0) {
      throw missingError(
        `Record does not exist or has been deleted.\n(Record: ${model}(${missing.join(', ')},), User: ${user.id})`,
      );
    }
    return ids.map((id) => table.get(id)!);
  }

  displayName(model: string, id: number): string {
    const rec = this.table(model).get(id);
    return rec ? this.spec(model).displayName(this, rec) : '';
  }

  private value(model: string, rec: Row, field: string): unknown {
    if (field === 'id') return rec.id;
    if (field === 'display_name') return this.spec(model).displayName(this, rec);
    const spec = this.spec(model);
    const compute = spec.computed?.[field];
    if (compute) return compute(this, rec);
    const def = spec.fields[field];
    if (def?.type === 'one2many') {
      return [...this.table(def.relation).values()]
        .filter((r) => r[def.inverse] === rec.id)
        .map((r) => r.id as number)
        .sort((a, b) => a - b);
    }
    return rec[field];
  }

  /** A field as Odoo serialises it: many2one `[id, name]`, empty `false`, x2many a list of ids. */
  private format(model: string, rec: Row, field: string): unknown {
    const def = this.spec(model).fields[field];
    const v = this.value(model, rec, field);
    if (!def) return v ?? false;
    switch (def.type) {
      case 'many2one':
        return typeof v === 'number' ? [v, this.displayName(def.relation, v)] : false;
      case 'one2many':
      case 'many2many':
        return Array.isArray(v) ? v : [];
      case 'integer':
      case 'float':
        return typeof v === 'number' ? v : 0;
      case 'monetary':
        return typeof v === 'number' ? round2(v) : 0;
      case 'boolean':
        return v === true;
      default:
        return v === undefined || v === null || v === '' ? false : v;
    }
  }

  private checkFields(model: string, fields: string[]): void {
    const spec = this.spec(model);
    for (const f of fields) {
      if (f !== 'id' && f !== 'display_name' && !spec.fields[f]) {
        throw valueError(`Invalid field '${f}' on model '${model}'`);
      }
    }
  }

  read(user: OdooUser, model: string, ids: number[], fields: string[] | undefined): Row[] {
    const names = fields && fields.length > 0 ? fields : Object.keys(this.spec(model).fields);
    this.checkFields(model, names);
    return this.browse(model, ids, user).map((rec) => {
      const out: Row = { id: rec.id };
      for (const f of names) out[f] = this.format(model, rec, f);
      return out;
    });
  }

  search(model: string, domain: unknown, opts: Row): number[] {
    const reader = (row: Row, path: string): unknown => this.readPath(model, row, path);
    let predicate: (r: Row) => boolean;
    let rows: Row[];
    try {
      predicate = compileDomain(domain, reader);
      const spec = this.spec(model);
      // Like Odoo, archived records are left out unless the domain names `active`.
      const activeFilter = spec.fields.active && !JSON.stringify(domain ?? []).includes('"active"');
      rows = [...this.table(model).values()].filter(
        (r) => (!activeFilter || r.active !== false) && predicate(r),
      );
      rows = sortRows(rows, typeof opts.order === 'string' ? opts.order : undefined, reader);
    } catch (e) {
      if (e instanceof DomainError) throw valueError(e.message);
      throw e;
    }
    const offset = typeof opts.offset === 'number' ? opts.offset : 0;
    const limit = typeof opts.limit === 'number' ? opts.limit : undefined;
    return rows.slice(offset, limit === undefined ? undefined : offset + limit).map((r) => r.id as number);
  }

  private readPath(model: string, row: Row, path: string): unknown {
    const [head, ...rest] = path.split('.');
    this.checkFields(model, [head!]);
    const v = this.format(model, row, head!);
    if (rest.length === 0) return v;
    const def = this.spec(model).fields[head!];
    if (def?.type !== 'many2one' || !Array.isArray(v)) return false;
    const target = this.table(def.relation).get(v[0] as number);
    return target ? this.readPath(def.relation, target, rest.join('.')) : false;
  }

  private fieldsGet(model: string, attributes: unknown): Row {
    const spec = this.spec(model);
    const wanted = Array.isArray(attributes) ? (attributes as string[]) : undefined;
    const out: Row = {};
    for (const [name, def] of Object.entries(spec.fields)) {
      const full: Row = {
        type: def.type,
        string: def.string,
        required: 'required' in def && def.required === true,
        readonly: spec.computed?.[name] !== undefined,
        ...('relation' in def ? { relation: def.relation } : {}),
        ...('selection' in def ? { selection: def.selection } : {}),
      };
      out[name] = wanted
        ? Object.fromEntries(Object.entries(full).filter(([k]) => wanted.includes(k)))
        : full;
    }
    return out;
  }

  /** Converts written values to stored ones (x2many commands applied after the record exists). */
  private prepare(model: string, vals: Row): { plain: Row; x2many: [string, unknown][] } {
    const spec = this.spec(model);
    const plain: Row = {};
    const x2many: [string, unknown][] = [];
    for (const [name, v] of Object.entries(vals)) {
      const def = spec.fields[name];
      if (!def) throw valueError(`Invalid field '${name}' on model '${model}'`);
      if (spec.computed?.[name]) continue; // Odoo ignores writes to computed non-stored fields
      switch (def.type) {
        case 'many2one': {
          if (v === false || v === null) {
            plain[name] = false;
            break;
          }
          if (typeof v !== 'number' || !this.table(def.relation).has(v)) {
            throw missingError(
              `Record does not exist or has been deleted.\n(Record: ${def.relation}(${JSON.stringify(v)},), User: 1)`,
            );
          }
          plain[name] = v;
          break;
        }
        case 'one2many':
        case 'many2many':
          x2many.push([name, v]);
          break;
        case 'selection':
          if (v !== false && !def.selection.some(([key]) => key === v)) {
            throw valueError(`Wrong value for ${model}.${name}: ${JSON.stringify(v)}`);
          }
          plain[name] = v;
          break;
        case 'integer':
        case 'float':
        case 'monetary':
          if (v !== false && typeof v !== 'number') {
            throw valueError(`invalid input syntax for type numeric: ${JSON.stringify(v)}`);
          }
          plain[name] = v === false ? 0 : v;
          break;
        case 'boolean':
          plain[name] = Boolean(v);
          break;
        default:
          if (v !== false && v !== null && typeof v !== 'string') {
            throw valueError(`Wrong value for ${model}.${name}: ${JSON.stringify(v)}`);
          }
          if (def.type === 'date' && typeof v === 'string' && !/^\d{4}-\d{2}-\d{2}$/.test(v)) {
            throw valueError(`time data '${v}' does not match format '%Y-%m-%d'`);
          }
          plain[name] = v === null ? false : v;
      }
    }
    return { plain, x2many };
  }

  private applyX2many(user: OdooUser, model: string, id: number, field: string, commands: unknown): void {
    const def = this.spec(model).fields[field] as Extract<FieldSpec, { type: 'one2many' | 'many2many' }>;
    const rec = this.table(model).get(id)!;
    const list = Array.isArray(commands) ? commands : [];
    // A plain list of ids on a many2many means "set" (what Odoo accepts as a shortcut).
    if (def.type === 'many2many' && list.every((c) => typeof c === 'number')) {
      this.browse(def.relation, list as number[], user);
      rec[field] = [...(list as number[])];
      return;
    }
    for (const command of list) {
      if (!Array.isArray(command) || typeof command[0] !== 'number') {
        throw valueError(`Invalid command ${JSON.stringify(command)} for field ${model}.${field}`);
      }
      const [op, ref, vals] = command as [number, unknown, unknown];
      if (def.type === 'one2many') this.o2mCommand(user, def, id, op, ref, vals);
      else this.m2mCommand(user, def, rec, field, op, ref, vals);
    }
  }

  private o2mCommand(
    user: OdooUser,
    def: Extract<FieldSpec, { type: 'one2many' }>,
    parent: number,
    op: number,
    ref: unknown,
    vals: unknown,
  ): void {
    const children = this.table(def.relation);
    const mine = () =>
      [...children.values()].filter((c) => c[def.inverse] === parent).map((c) => c.id as number);
    switch (op) {
      case 0:
        this.createRaw(user, def.relation, { ...(vals as Row), [def.inverse]: parent }, {});
        return;
      case 1:
        this.browse(def.relation, [ref as number], user);
        this.writeRaw(user, def.relation, [ref as number], vals as Row);
        return;
      case 2:
      case 3:
        this.browse(def.relation, [ref as number], user);
        children.delete(ref as number);
        return;
      case 4:
        this.browse(def.relation, [ref as number], user)[0]![def.inverse] = parent;
        return;
      case 5:
        for (const child of mine()) children.delete(child);
        return;
      case 6: {
        const keep = new Set(vals as number[]);
        this.browse(def.relation, [...keep], user);
        for (const child of mine()) if (!keep.has(child)) children.delete(child);
        for (const child of keep) children.get(child)![def.inverse] = parent;
        return;
      }
      default:
        throw valueError(`Unknown command ${op}`);
    }
  }

  private m2mCommand(
    user: OdooUser,
    def: Extract<FieldSpec, { type: 'many2many' }>,
    rec: Row,
    field: string,
    op: number,
    ref: unknown,
    vals: unknown,
  ): void {
    const current = new Set((rec[field] as number[] | undefined) ?? []);
    switch (op) {
      case 0:
        current.add(this.createRaw(user, def.relation, vals as Row, {}));
        break;
      case 3:
        current.delete(ref as number);
        break;
      case 4:
        this.browse(def.relation, [ref as number], user);
        current.add(ref as number);
        break;
      case 5:
        current.clear();
        break;
      case 6:
        this.browse(def.relation, vals as number[], user);
        current.clear();
        for (const id of vals as number[]) current.add(id);
        break;
      default:
        throw valueError(`Unknown command ${op}`);
    }
    rec[field] = [...current];
  }

  private createRaw(user: OdooUser, model: string, vals: Row, context: Row): number {
    const spec = this.spec(model);
    const { plain, x2many } = this.prepare(model, vals);
    const row: Row = { ...(spec.defaults?.(this, vals, context) ?? {}), ...plain };
    if (model === 'account.move') row._applied = [];
    if (model === 'account.move.line') this.lineDefaults(row);
    for (const [name, def] of Object.entries(spec.fields)) {
      if (
        'required' in def &&
        def.required &&
        (row[name] === undefined || row[name] === false || row[name] === '')
      ) {
        if (model === 'res.partner' && name === 'name') throw validationError('Contacts require a name');
        throw validationError(`The field '${def.string}' (${model}.${name}) is required.`);
      }
    }
    const id = this.insert(model, row);
    for (const [field, commands] of x2many) this.applyX2many(user, model, id, field, commands);
    return id;
  }

  private writeRaw(user: OdooUser, model: string, ids: number[], vals: Row): void {
    const { plain, x2many } = this.prepare(model, vals);
    for (const rec of this.browse(model, ids, user)) {
      Object.assign(rec, plain);
      if (model === 'res.partner' && (rec.name === false || rec.name === '')) {
        throw validationError('Contacts require a name');
      }
      for (const [field, commands] of x2many)
        this.applyX2many(user, model, rec.id as number, field, commands);
    }
  }

  /** Odoo fills a line's label and price from its product when they are not given. */
  private lineDefaults(line: Row): void {
    if (typeof line.product_id !== 'number') return;
    const product = this.table('product.product').get(line.product_id)!;
    if (line.name === undefined || line.name === false)
      line.name = this.displayName('product.product', product.id as number);
    if (line.price_unit === undefined) {
      const move =
        typeof line.move_id === 'number' ? this.table('account.move').get(line.move_id) : undefined;
      const purchase = move && String(move.move_type).startsWith('in_');
      line.price_unit = purchase ? product.standard_price : product.list_price;
    }
  }

  // ------------------------------------------------------------------ rights

  private requireGroup(user: OdooUser, group: Group, operation: string, model: string): void {
    if (user.groups.includes(group)) return;
    const description = this.spec(model).description;
    throw accessError(
      `You are not allowed to ${operation} '${description}' (${model}) records.\n\nThis operation is allowed for the following groups:\n\t- ${GROUP_LABEL[group]}\n\nContact your administrator to request access if necessary.`,
    );
  }

  /** A draft-only user may touch a move only while it is a draft (a record rule in a real setup). */
  private requireDraftOrPoster(user: OdooUser, moves: Row[], operation: string): void {
    if (user.groups.includes('post')) return;
    const locked = moves.filter((m) => m.state !== 'draft');
    if (locked.length === 0) return;
    throw accessError(
      `You are not allowed to ${operation} this document: ${locked
        .map(
          (m) =>
            `'${this.spec('account.move').description}' ${this.displayName('account.move', m.id as number)} (account.move: ${m.id})`,
        )
        .join(
          ', ',
        )}. It is not a draft, and ${user.name} (id=${user.id}) may only change drafts.\n\nContact your administrator to request access if necessary.`,
    );
  }

  private checkWriteRights(user: OdooUser, model: string, operation: string): void {
    if (model === 'account.payment' || model === 'account.payment.register') {
      this.requireGroup(user, 'pay', operation, model);
    } else if (model === 'res.currency' || model === 'account.journal' || model === 'res.users') {
      this.requireGroup(user, 'post', operation, model);
    } else {
      this.requireGroup(user, 'draft', operation, model);
    }
  }

  // ------------------------------------------------------------------ create / write / unlink with rules

  create(user: OdooUser, model: string, vals: Row, context: Row): number {
    this.checkWriteRights(user, model, 'create');
    if (model === 'account.move.line') {
      const move = this.browse('account.move', [vals.move_id as number], user);
      this.requireDraftOrPoster(user, move, 'modify');
      this.requirePostedUnlocked(move);
    }
    if (model === 'account.move' && vals.state !== undefined && vals.state !== 'draft') {
      throw userError('A journal entry is created as a draft; post it with action_post.');
    }
    if (model === 'account.payment' && vals.amount !== undefined && Number(vals.amount) < 0) {
      throw validationError('The payment amount cannot be negative.');
    }
    return this.createRaw(user, model, vals, context);
  }

  write(user: OdooUser, model: string, ids: number[], vals: Row): void {
    this.checkWriteRights(user, model, 'modify');
    if (model === 'account.move') {
      const moves = this.browse(model, ids, user);
      this.requireDraftOrPoster(user, moves, 'modify');
      if ('state' in vals || 'name' in vals) {
        throw userError(
          'The status and number of an entry change through action_post, button_draft and button_cancel.',
        );
      }
      const locking = [
        'invoice_line_ids',
        'partner_id',
        'currency_id',
        'move_type',
        'invoice_date',
        'journal_id',
      ];
      if (Object.keys(vals).some((k) => locking.includes(k))) this.requirePostedUnlocked(moves);
    }
    if (model === 'account.move.line') {
      const lines = this.browse(model, ids, user);
      const moves = this.browse(
        'account.move',
        lines.map((l) => l.move_id as number),
        user,
      );
      this.requireDraftOrPoster(user, moves, 'modify');
      this.requirePostedUnlocked(moves);
    }
    if (model === 'account.payment' && this.browse(model, ids, user).some((p) => p.state !== 'draft')) {
      throw userError('You can only modify a payment in draft.');
    }
    this.writeRaw(user, model, ids, vals);
  }

  unlink(user: OdooUser, model: string, ids: number[]): void {
    this.checkWriteRights(user, model, 'delete');
    const records = this.browse(model, ids, user);
    if (model === 'account.move') {
      this.requireDraftOrPoster(user, records, 'delete');
      if (records.some((m) => m.state === 'posted')) {
        throw userError('You cannot delete an entry which has been posted once.');
      }
      const lines = this.table('account.move.line');
      for (const [lineId, line] of lines) if (ids.includes(line.move_id as number)) lines.delete(lineId);
    }
    if (model === 'account.payment' && records.some((p) => p.state !== 'draft')) {
      throw userError('You can only delete a payment in draft.');
    }
    for (const id of ids) this.table(model).delete(id);
  }

  private requirePostedUnlocked(moves: Row[]): void {
    const posted = moves.find((m) => m.state === 'posted');
    if (posted) {
      throw userError(
        `You cannot modify a posted entry of this journal (${this.displayName('account.move', posted.id as number)}). First reset it to draft.`,
      );
    }
  }

  // ------------------------------------------------------------------ accounting

  moveTotal(move: Row): number {
    const lines = [...this.table('account.move.line').values()].filter((l) => l.move_id === move.id);
    return round2(lines.reduce((sum, l) => sum + lineSubtotal(l), 0));
  }

  private paid(move: Row): number {
    return round2((move._applied as Applied[]).reduce((s, a) => s + a.amount, 0));
  }

  moveResidual(move: Row): number {
    if (move.state === 'cancel') return 0;
    return round2(Math.max(0, this.moveTotal(move) - this.paid(move)));
  }

  movePaymentState(move: Row): string {
    if (move.state !== 'posted' || move.move_type === 'entry') return 'not_paid';
    const total = this.moveTotal(move);
    const paid = this.paid(move);
    if (paid >= total) return 'paid';
    return paid > 0 ? 'partial' : 'not_paid';
  }

  private nextName(prefix: string, date: string): string {
    const year = date.slice(0, 4);
    const key = `${prefix}/${year}`;
    const n = (this.sequences.get(key) ?? 0) + 1;
    this.sequences.set(key, n);
    return `${key}/${String(n).padStart(5, '0')}`;
  }

  private postMoves(user: OdooUser, ids: number[]): false {
    const moves = this.browse('account.move', ids, user);
    if (!user.groups.includes('post')) {
      throw accessError(
        `You are not allowed to post '${this.spec('account.move').description}' (account.move) records.\n\nThis operation is allowed for the following groups:\n\t- ${GROUP_LABEL.post}\n\nContact your administrator to request access if necessary.`,
      );
    }
    // Odoo validates every move before posting any (one transaction).
    for (const move of moves) {
      if (move.state === 'posted') {
        throw userError(
          `The entry ${this.displayName('account.move', move.id as number)} (id ${move.id}) is already posted.`,
        );
      }
      if (move.state === 'cancel')
        throw userError('You cannot post a cancelled entry; reset it to draft first.');
      const isInvoice = move.move_type !== 'entry';
      if (isInvoice && typeof move.partner_id !== 'number') {
        const label = String(move.move_type).startsWith('out_') ? 'Customer' : 'Vendor';
        const type = MOVE_TYPES.find(([k]) => k === move.move_type)?.[1];
        throw userError(`The field '${label}' is required, please complete it to validate the ${type}.`);
      }
      const lines = [...this.table('account.move.line').values()].filter((l) => l.move_id === move.id);
      if (isInvoice && lines.length === 0) throw userError('You need to add a line before posting.');
      if (isInvoice && this.moveTotal(move) < 0) {
        throw userError(
          'You cannot validate an invoice with a negative total amount. You should create a credit note instead.',
        );
      }
    }
    for (const move of moves) {
      if (!move.invoice_date && move.move_type !== 'entry') move.invoice_date = this.today();
      move.date = move.invoice_date || move.date || this.today();
      if (!move.invoice_date_due) move.invoice_date_due = move.invoice_date || move.date;
      // A move reset to draft keeps its number when posted again, as in Odoo.
      if (!move.name || move.name === '/')
        move.name = this.nextName(PREFIX_OF[move.move_type as string] ?? 'MISC', move.date as string);
      move.state = 'posted';
    }
    return false;
  }

  private resetToDraft(user: OdooUser, ids: number[]): void {
    const moves = this.browse('account.move', ids, user);
    if (!user.groups.includes('post')) {
      throw accessError(
        `You are not allowed to reset to draft '${this.spec('account.move').description}' (account.move) records.\n\nThis operation is allowed for the following groups:\n\t- ${GROUP_LABEL.post}\n\nContact your administrator to request access if necessary.`,
      );
    }
    for (const move of moves) {
      if (move.state !== 'posted' && move.state !== 'cancel') {
        throw userError('Only posted/cancelled journal entries can be reset to draft.');
      }
      if ((move._applied as Applied[]).length > 0) {
        throw userError(
          `${this.displayName('account.move', move.id as number)} has payments: unreconcile them before resetting it to draft.`,
        );
      }
    }
    for (const move of moves) move.state = 'draft';
  }

  private cancelMoves(user: OdooUser, ids: number[]): void {
    const moves = this.browse('account.move', ids, user);
    this.requireDraftOrPoster(user, moves, 'cancel');
    for (const move of moves) {
      if (move.state !== 'draft') throw userError('Only draft journal entries can be cancelled.');
    }
    for (const move of moves) move.state = 'cancel';
  }

  private postPayments(user: OdooUser, ids: number[]): false {
    this.requireGroup(user, 'pay', 'validate', 'account.payment');
    const payments = this.browse('account.payment', ids, user);
    for (const p of payments) {
      if (p.state !== 'draft') throw userError('Only a draft payment can be posted.');
      if (!(Number(p.amount) > 0)) throw userError('You cannot post a payment with a zero amount.');
      const invoices = this.browse('account.move', (p.invoice_ids as number[]) ?? [], user);
      for (const inv of invoices) this.checkPayable(inv, p.payment_type as string);
    }
    for (const p of payments) {
      p.name = this.nextName('PBNK1', String(p.date));
      let left = Number(p.amount);
      for (const inv of this.browse('account.move', (p.invoice_ids as number[]) ?? [], user)) {
        const take = round2(Math.min(left, this.moveResidual(inv)));
        if (take <= 0) continue;
        (inv._applied as Applied[]).push({ payment: p.id as number, amount: take });
        left = round2(left - take);
      }
      // Matched with invoices: paid; otherwise it waits in the outstanding account (Odoo 18's in_process).
      p.state = (p.invoice_ids as number[]).length > 0 ? 'paid' : 'in_process';
    }
    return false;
  }

  private checkPayable(inv: Row, paymentType: string): void {
    if (inv.state !== 'posted') throw userError('You can only register payment for posted journal entries.');
    const inbound = inv.move_type === 'out_invoice' || inv.move_type === 'in_refund';
    if ((paymentType === 'inbound') !== inbound) {
      throw userError(
        `A ${paymentType} payment cannot pay ${this.displayName('account.move', inv.id as number)}.`,
      );
    }
    if (this.moveResidual(inv) <= 0) {
      throw userError(
        "You can't register a payment because there is nothing left to pay on the selected journal items.",
      );
    }
  }

  registerDefaults(context: Row): Row {
    if (context.active_model !== 'account.move' || !Array.isArray(context.active_ids)) {
      throw userError(
        'The register payment wizard should only be called on account.move or account.move.line records.',
      );
    }
    const ids = context.active_ids as number[];
    const moves = ids.map((id) => {
      const m = this.table('account.move').get(id);
      if (!m)
        throw missingError(
          `Record does not exist or has been deleted.\n(Record: account.move(${id},), User: 1)`,
        );
      return m;
    });
    const first = moves[0];
    if (!first) throw userError('You can only register payment for posted journal entries.');
    const type = String(first.move_type);
    const paymentType = type === 'out_invoice' || type === 'in_refund' ? 'inbound' : 'outbound';
    for (const m of moves) this.checkPayable(m, paymentType);
    if (new Set(moves.map((m) => m.partner_id)).size > 1) {
      throw userError(
        'The selected invoices belong to different partners; register their payments one partner at a time.',
      );
    }
    return {
      amount: round2(moves.reduce((s, m) => s + this.moveResidual(m), 0)),
      payment_date: this.today(),
      journal_id: 3,
      currency_id: first.currency_id,
      partner_id: first.partner_id,
      payment_type: paymentType,
      move_ids: ids,
      communication: moves.map((m) => this.displayName('account.move', m.id as number)).join(' '),
    };
  }

  private createRegisteredPayments(user: OdooUser, ids: number[]): Row {
    this.requireGroup(user, 'pay', 'create', 'account.payment');
    const wizards = this.browse('account.payment.register', ids, user);
    const created: number[] = [];
    for (const w of wizards) {
      const moves = this.browse('account.move', w.move_ids as number[], user);
      for (const m of moves) this.checkPayable(m, w.payment_type as string);
      if (!(Number(w.amount) > 0)) throw userError('The payment amount must be strictly positive.');
      const first = moves[0]!;
      const paymentId = this.createRaw(
        user,
        'account.payment',
        {
          payment_type: w.payment_type,
          partner_type: String(first.move_type).startsWith('out_') ? 'customer' : 'supplier',
          partner_id: w.partner_id,
          amount: w.amount,
          currency_id: w.currency_id,
          journal_id: w.journal_id,
          date: w.payment_date,
          memo: w.communication,
          invoice_ids: [[6, 0, w.move_ids]],
        },
        {},
      );
      this.postPayments(user, [paymentId]);
      created.push(paymentId);
    }
    return {
      name: 'Payments',
      type: 'ir.actions.act_window',
      res_model: 'account.payment',
      context: { create: false },
      ...(created.length === 1
        ? { view_mode: 'form', res_id: created[0] }
        : { view_mode: 'list,form', domain: [['id', 'in', created]] }),
    };
  }

  /** For the PDF route: the invoice's name, partner, lines and total, or undefined. */
  invoiceSummary(id: number):
    | {
        name: string;
        partner: string;
        total: number;
        currency: string;
        state: string;
        lines: { label: string; amount: number }[];
      }
    | undefined {
    const move = this.table('account.move').get(id);
    if (!move) return undefined;
    const lines = [...this.table('account.move.line').values()]
      .filter((l) => l.move_id === id)
      .map((l) => ({ label: String(l.name || ''), amount: lineSubtotal(l) }));
    return {
      name: this.displayName('account.move', id),
      partner: typeof move.partner_id === 'number' ? this.displayName('res.partner', move.partner_id) : '',
      total: this.moveTotal(move),
      currency: this.displayName('res.currency', move.currency_id as number),
      state: String(move.state),
      lines,
    };
  }
}

function asFields(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((f): f is string => typeof f === 'string') : undefined;
}
