/**
 * Odoo search domains and `order` strings for the test Odoo server: a domain is a list in prefix (Polish)
 * notation of leaves `[field, operator, value]` and the operators `&`, `|` (two operands) and `!` (one);
 * terms side by side are joined by an implicit `&`. A dotted field (`partner_id.name`) follows a many2one.
 */

export type Row = Record<string, unknown>;
/** Reads a field of a record, following many2one ids through `resolve` for dotted paths. */
export type FieldReader = (row: Row, path: string) => unknown;

export class DomainError extends Error {}

const OPERATORS = new Set([
  '=',
  '!=',
  '<>',
  '<',
  '>',
  '<=',
  '>=',
  'like',
  'ilike',
  'not like',
  'not ilike',
  'in',
  'not in',
  '=like',
  '=ilike',
]);

type Predicate = (row: Row) => boolean;

/** Compiles a domain into a predicate; throws DomainError (Odoo answers ValueError) on a malformed one. */
export function compileDomain(domain: unknown, read: FieldReader): Predicate {
  if (domain === undefined || domain === null || domain === false) return () => true;
  if (!Array.isArray(domain)) throw new DomainError(`Invalid domain: ${JSON.stringify(domain)}`);
  let at = 0;
  const next = (): Predicate => {
    if (at >= domain.length)
      throw new DomainError(`Invalid domain (missing operand): ${JSON.stringify(domain)}`);
    const term = domain[at++];
    if (term === '&' || term === '|') {
      const left = next();
      const right = next();
      return term === '&' ? (r) => left(r) && right(r) : (r) => left(r) || right(r);
    }
    if (term === '!') {
      const inner = next();
      return (r) => !inner(r);
    }
    return leaf(term, read);
  };
  const terms: Predicate[] = [];
  while (at < domain.length) terms.push(next());
  return (row) => terms.every((t) => t(row));
}

function leaf(term: unknown, read: FieldReader): Predicate {
  if (
    Array.isArray(term) &&
    term.length === 3 &&
    typeof term[0] === 'string' &&
    typeof term[1] === 'string'
  ) {
    const [field, operator, value] = term as [string, string, unknown];
    if (!OPERATORS.has(operator))
      throw new DomainError(`Invalid leaf ${JSON.stringify(term)}: unknown operator`);
    return (row) => matches(read(row, field), operator, value);
  }
  // Odoo's constant leaves.
  if (Array.isArray(term) && term.length === 3 && term[0] === 1 && term[2] === 1) return () => true;
  if (Array.isArray(term) && term.length === 3 && term[0] === 0 && term[2] === 1) return () => false;
  throw new DomainError(`Invalid leaf ${JSON.stringify(term)}`);
}

/** A many2one is compared by id, or by name when the value is a string (like Odoo's name search). */
function scalar(actual: unknown, value: unknown): unknown {
  if (Array.isArray(actual) && actual.length === 2 && typeof actual[0] === 'number') {
    return typeof value === 'string' ? actual[1] : actual[0];
  }
  return actual;
}

/** A SQL LIKE pattern (`%` any run, `_` one character) as an anchored regular expression. */
function likeRegex(pattern: string, insensitive: boolean): RegExp {
  const escaped = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/%/g, '.*')
    .replace(/_/g, '.');
  return new RegExp(`^${escaped}$`, insensitive ? 'is' : 's');
}

function isEmpty(v: unknown): boolean {
  return v === false || v === null || v === undefined || (Array.isArray(v) && v.length === 0);
}

function matches(actualRaw: unknown, operator: string, value: unknown): boolean {
  // x2many: the leaf holds when any related id matches (Odoo's semantics for `in` / `=` on x2many).
  if (Array.isArray(actualRaw) && !(actualRaw.length === 2 && typeof actualRaw[1] === 'string')) {
    const ids = actualRaw as unknown[];
    if (operator === '=' && isEmpty(value)) return ids.length === 0;
    if (operator === '!=' && isEmpty(value)) return ids.length > 0;
    if (operator === 'in') return ids.some((id) => (value as unknown[]).includes(id));
    if (operator === 'not in') return !ids.some((id) => (value as unknown[]).includes(id));
    if (operator === '=') return ids.includes(value);
    if (operator === '!=') return !ids.includes(value);
  }
  const actual = scalar(actualRaw, Array.isArray(value) ? value[0] : value);
  switch (operator) {
    case '=':
      return isEmpty(value) ? isEmpty(actual) : actual === value;
    case '!=':
    case '<>':
      return isEmpty(value) ? !isEmpty(actual) : actual !== value;
    case '<':
    case '>':
    case '<=':
    case '>=': {
      if (isEmpty(actual)) return false;
      const a = actual as number | string;
      const b = value as number | string;
      return operator === '<' ? a < b : operator === '>' ? a > b : operator === '<=' ? a <= b : a >= b;
    }
    case 'in':
    case 'not in': {
      if (!Array.isArray(value))
        throw new DomainError(`${operator} needs a list, got ${JSON.stringify(value)}`);
      const hit = value.some((v) => (v === false ? isEmpty(actual) : v === scalar(actualRaw, v)));
      return operator === 'in' ? hit : !hit;
    }
    default: {
      // like / ilike wrap the value in %…%; =like / =ilike use it as the pattern.
      if (isEmpty(actual)) return operator.startsWith('not');
      const insensitive = operator.includes('ilike');
      const pattern = operator.startsWith('=') ? String(value) : `%${String(value)}%`;
      const hit = likeRegex(pattern, insensitive).test(String(actual));
      return operator.startsWith('not') ? !hit : hit;
    }
  }
}

/** Sorts by an Odoo `order` string ("name asc, id desc"); many2one fields sort by their display name. */
export function sortRows(rows: Row[], order: string | undefined, read: FieldReader): Row[] {
  const keys = (order || 'id')
    .split(',')
    .map((part) => part.trim().split(/\s+/))
    .filter((p) => p[0])
    .map(([field, dir]) => {
      if (!/^[a-z_][a-z0-9_.]*$/.test(field!)) throw new DomainError(`Invalid "order" specified (${order})`);
      return { field: field!, desc: (dir ?? 'asc').toLowerCase() === 'desc' };
    });
  const value = (row: Row, field: string): unknown => {
    const v = read(row, field);
    if (Array.isArray(v) && v.length === 2 && typeof v[1] === 'string') return v[1];
    return v === false ? null : v;
  };
  return [...rows].sort((a, b) => {
    for (const { field, desc } of keys) {
      const x = value(a, field);
      const y = value(b, field);
      if (x === y) continue;
      // Odoo (PostgreSQL) puts NULLs last in ascending order.
      if (x === null) return desc ? -1 : 1;
      if (y === null) return desc ? 1 : -1;
      const c = (x as number | string) < (y as number | string) ? -1 : 1;
      return desc ? -c : c;
    }
    return 0;
  });
}
