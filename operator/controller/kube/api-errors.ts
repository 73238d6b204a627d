import { ApiException } from '@kubernetes/client-node';

/** What the API server said about a failed request: HTTP code, Status reason and message. */
export type ApiFailure = { code: number; reason: string; message: string };

/**
 * The HTTP code, Status reason and message of a failed API call, or undefined when the request never got
 * an answer (connection refused, TLS, timeout).
 */
export function apiFailure(error: unknown): ApiFailure | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const code = Number(error.code);
  let body: unknown = error.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // not JSON: keep the text
    }
  }
  if (body && typeof body === 'object') {
    const status = body as { reason?: unknown; message?: unknown };
    return {
      code,
      reason: typeof status.reason === 'string' ? status.reason : '',
      message: typeof status.message === 'string' ? status.message : `HTTP ${code}`,
    };
  }
  return {
    code,
    reason: '',
    message: typeof body === 'string' && body ? body.slice(0, 300) : `HTTP ${code}`,
  };
}

export function isApiCode(error: unknown, code: number): boolean {
  return apiFailure(error)?.code === code;
}

/** A one-line description of a failed API call (no stack, no response headers). */
export function describeApiError(error: unknown): string {
  const failure = apiFailure(error);
  if (failure)
    return `${failure.message} (HTTP ${failure.code}${failure.reason ? ` ${failure.reason}` : ''})`;
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message;
    return detail && !error.message.includes(detail) ? `${error.message} (${detail})` : error.message;
  }
  return String(error);
}

/** The Kubernetes API could not be reached, or answered with an error nobody above can act on. */
export class KubeApiError extends Error {
  constructor(
    readonly operation: string,
    readonly failure: ApiFailure | undefined,
    detail: string,
  ) {
    super(`${operation}: ${detail}`);
  }
}
