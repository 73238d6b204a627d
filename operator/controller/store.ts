import type { Task, TaskSpec, TaskStatus } from '../task.js';

/**
 * Where Tasks live: an in-process map (`--store memory`, memory-store.ts) or the Kubernetes API
 * (`--store kube`, kube/task-store.ts). The interface is the API server's: objects carry resource versions, a watch
 * starts from a resource version and may be told it is too old (relist then), spec and status are
 * written separately, and a status write can be made conditional on the version it was computed from.
 */
export interface TaskStore {
  /** `memory` or `kube`, for logs. */
  readonly kind: string;
  list(): Promise<TaskList>;
  get(name: string): Promise<Task | undefined>;
  /**
   * Events after `resourceVersion`, in order, until `stop()` or until the store closes the watch
   * (`onClose`, with GoneError when that version is no longer available: list again, then watch).
   */
  watch(resourceVersion: string, handler: WatchHandler): Promise<WatchHandle>;
  /**
   * Server-side apply of the spec by a field manager that owns it wholly: creates the task, or replaces
   * its spec (bumping `generation`); an identical spec changes nothing (no new version, no event).
   */
  apply(name: string, spec: TaskSpec, options: ApplyOptions): Promise<Task>;
  /**
   * JSON merge patch (RFC 7386) of the status subresource: keys set to `null` are removed, arrays are
   * replaced. With `resourceVersion`, fails with ConflictError when the task changed since.
   */
  patchStatus(name: string, patch: StatusPatch, options: StatusPatchOptions): Promise<Task>;
  /** Returns false when there was no such task. */
  delete(name: string): Promise<boolean>;
}

export type TaskList = { items: Task[]; resourceVersion: string };

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export type WatchEvent = { type: WatchEventType; object: Task };
export type WatchHandler = { onEvent(event: WatchEvent): void; onClose(error?: Error): void };
export type WatchHandle = { stop(): void };

export type ApplyOptions = {
  fieldManager: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
};
export type StatusPatchOptions = { fieldManager: string; resourceVersion?: string };
export type StatusPatch = { [K in keyof TaskStatus]?: TaskStatus[K] | null };

/** 404: no such task. */
export class NotFoundError extends Error {
  constructor(readonly taskName: string) {
    super(`task ${taskName} not found`);
  }
}

/** 409: the task changed since the version a write was based on; read it again and recompute. */
export class ConflictError extends Error {
  constructor(
    readonly taskName: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`task ${taskName} changed (resourceVersion ${actual}, expected ${expected}); read it again`);
  }
}

/** 410: a watch asked for a version the store no longer has; list again and watch from the new version. */
export class GoneError extends Error {
  constructor(readonly resourceVersion: string) {
    super(`resourceVersion ${resourceVersion} is too old; list again`);
  }
}

/** 422: the object does not match the schema. */
export class InvalidError extends Error {}

/** RFC 7386 JSON merge patch: objects merge key by key, `null` deletes, everything else replaces. */
export function mergePatch<T>(target: T, patch: unknown): T {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch as T;
  const base =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value);
  }
  return base as T;
}

/** Structural equality of JSON-like values (key order ignored, undefined keys ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let defined = 0;
  for (const key in ra) {
    if (ra[key] === undefined) continue;
    defined++;
    if (!jsonEqual(ra[key], rb[key])) return false;
  }
  for (const key in rb) if (rb[key] !== undefined) defined--;
  return defined === 0;
}
