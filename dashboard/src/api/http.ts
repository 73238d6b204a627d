import { CSRF_HEADER } from './types';

/** A non-2xx answer: `message` is the server's `{ error }` when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function errorFrom(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body: unknown = await response.json();
    if (body && typeof body === 'object' && 'error' in body && typeof body.error === 'string') {
      message = body.error;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, message);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, {
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
    signal,
  });
  if (!response.ok) throw await errorFrom(response);
  return (await response.json()) as T;
}

/** Every POST carries the session's CSRF token and a JSON body. */
export async function postJson<T>(path: string, body: unknown, csrf: string): Promise<T> {
  const response = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { accept: 'application/json', 'content-type': 'application/json', [CSRF_HEADER]: csrf },
    body: JSON.stringify(body ?? {}),
  });
  if (!response.ok) throw await errorFrom(response);
  const text = await response.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** The API path of one item: ids come from the vault, so they are always encoded. */
export function apiPath(...parts: string[]): string {
  return `/api/${parts.map((part) => encodeURIComponent(part)).join('/')}`;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
