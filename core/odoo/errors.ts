import { EXIT, FteError } from '../errors.js';

export type OdooProtocol = 'json2' | 'jsonrpc';

/** Where an Odoo error came from and what Odoo said; never holds the API key. */
export interface OdooErrorDetails {
  protocol?: OdooProtocol;
  model?: string;
  method?: string;
  /** HTTP status of the answer, when there was one. */
  status?: number;
  /** Odoo's exception name, e.g. `odoo.exceptions.AccessError`. */
  odooName?: string;
  /**
   * A call that changes data (create, write, action_post, a payment) failed in a way that does not say
   * whether Odoo applied it: a timeout, a 5xx, a cut connection. Never retry such a call blindly; read
   * Odoo's state first.
   */
  outcomeUnknown?: boolean;
}

/** Any failure talking to Odoo. Subclasses say what the caller can do about it. */
export class OdooError extends FteError {
  readonly details: OdooErrorDetails;

  constructor(
    message: string,
    details: OdooErrorDetails,
    options: { exitCode: number; retryable: boolean; cause?: unknown },
  ) {
    super(message, options);
    this.details = details;
  }
}

/** Odoo refused: a wrong or revoked API key (AccessDenied, 401) or missing rights (AccessError, 403). */
export class OdooAccessError extends OdooError {
  constructor(message: string, details: OdooErrorDetails = {}) {
    super(message, details, { exitCode: EXIT.config, retryable: false });
  }
}

/** Odoo's UserError: the request makes no sense in the record's state (e.g. posting a posted invoice). */
export class OdooUserError extends OdooError {
  constructor(message: string, details: OdooErrorDetails = {}) {
    super(message, details, { exitCode: EXIT.dataError, retryable: false });
  }
}

/** Odoo's ValidationError: a constraint on the values failed. */
export class OdooValidationError extends OdooError {
  constructor(message: string, details: OdooErrorDetails = {}) {
    super(message, details, { exitCode: EXIT.dataError, retryable: false });
  }
}

/** Odoo's MissingError: the record does not exist (any more). */
export class OdooMissingError extends OdooError {
  constructor(message: string, details: OdooErrorDetails = {}) {
    super(message, details, { exitCode: EXIT.missing, retryable: false });
  }
}

/** Anything else: a Python exception, a 5xx, an HTML page or a body that is not JSON, a network error. */
export class OdooServerError extends OdooError {
  constructor(message: string, details: OdooErrorDetails = {}, cause?: unknown) {
    super(message, details, { exitCode: EXIT.unavailable, retryable: true, cause });
  }
}

/** No (complete) answer within the timeout. */
export class OdooTimeoutError extends OdooError {
  constructor(message: string, details: OdooErrorDetails = {}) {
    super(message, details, { exitCode: EXIT.tempFail, retryable: true });
  }
}

/** Replaces every occurrence of the secrets (API key, password) in a text. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out;
}

/** A short, single-line, tag-free excerpt of an answer body for an error message. */
const ENTITIES: Record<string, string> = {
  quot: '"',
  amp: '&',
  lt: '<',
  gt: '>',
  '#39': "'",
  apos: "'",
  nbsp: ' ',
};

export function excerpt(body: string, secrets: readonly (string | undefined)[], max = 240): string {
  const stripped = redact(body, secrets)
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(quot|amp|lt|gt|#39|apos|nbsp);/g, (_, e: string) => ENTITIES[e] ?? ' ')
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  // Again after decoding, in case an entity split a secret.
  const text = redact(stripped, secrets);
  return text.length > max ? `${text.slice(0, max)}…` : text || '(empty body)';
}

/**
 * The typed error for an exception Odoo reported, from its fully qualified name (both protocols carry
 * it: JSON-RPC in `error.data.name`, JSON-2 in the body's `name`), or from the HTTP status when the name
 * is unknown.
 */
export function odooErrorFor(
  name: string | undefined,
  message: string,
  details: OdooErrorDetails,
): OdooError {
  const where = details.model ? `${details.model}.${details.method}` : (details.method ?? 'call');
  const text = `Odoo ${where}: ${message}${name ? ` (${name})` : ''}`;
  const all = { ...details, odooName: name };
  switch (name) {
    case 'odoo.exceptions.AccessError':
    case 'odoo.exceptions.AccessDenied':
    case 'werkzeug.exceptions.Unauthorized':
    case 'werkzeug.exceptions.Forbidden':
      return new OdooAccessError(text, all);
    case 'odoo.exceptions.MissingError':
      return new OdooMissingError(text, all);
    case 'odoo.exceptions.ValidationError':
      return new OdooValidationError(text, all);
    case 'odoo.exceptions.UserError':
    case 'odoo.exceptions.RedirectWarning':
    case 'odoo.exceptions.CacheMiss':
      return new OdooUserError(text, all);
  }
  if (name === undefined) {
    if (details.status === 401 || details.status === 403) return new OdooAccessError(text, all);
    if (details.status === 422) return new OdooUserError(text, all);
  }
  return new OdooServerError(text, all);
}
