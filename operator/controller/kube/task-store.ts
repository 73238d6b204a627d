import {
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, KIND, Task, type TaskSpec } from '../../task.js';
import {
  type ApplyOptions,
  ConflictError,
  GoneError,
  InvalidError,
  NotFoundError,
  type StatusPatch,
  type StatusPatchOptions,
  type TaskList,
  type TaskStore,
  type WatchEventType,
  type WatchHandle,
  type WatchHandler,
} from '../store.js';
import { apiFailure, describeApiError, KubeApiError } from './api-errors.js';
import { shareConnections } from './connections.js';

export const GROUP = 'fte.dev';
export const VERSION = 'v1alpha1';
export const PLURAL = 'tasks';

export type KubeTaskStoreOptions = {
  kubeConfig: KubeConfig;
  namespace: string;
  logger?: Logger;
  /** Page size of a list (the API server's pagination). */
  pageSize?: number;
  /**
   * How long the server keeps one watch request open before ending it cleanly (the store then watches
   * again from the last version it saw, invisibly to the caller). Jittered by up to 20 %.
   */
  watchTimeoutSeconds?: number;
};

const WATCH_TYPES: ReadonlySet<string> = new Set<WatchEventType>(['ADDED', 'MODIFIED', 'DELETED']);

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Tasks as custom resources (`tasks.fte.dev`, crds/task.yaml) in one namespace of a real API server,
 * behind the same TaskStore interface as the memory store:
 * - the spec is written with server-side apply by a field manager that owns it wholly (forced, so a hand
 *   edit of a mirrored field is put back); an identical apply changes nothing on the server;
 * - the status goes through the status subresource as a JSON merge patch, carrying `resourceVersion` when
 *   the caller asks for optimistic concurrency (409 → ConflictError);
 * - a watch that the server ends cleanly (its timeout) is resumed from the last version seen, bookmarks
 *   included; one that fails is closed towards the caller (GoneError for 410), who lists again.
 * Objects handed out are parsed with the same zod schema the CRD is generated from, and frozen.
 */
export class KubeTaskStore implements TaskStore {
  readonly kind = 'kube';
  readonly namespace: string;
  private readonly api: CustomObjectsApi;
  private readonly watcher: Watch;
  private readonly logger: Logger | undefined;
  private readonly pageSize: number;
  private readonly watchTimeoutSeconds: number;
  private readonly applyOptions = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  private readonly mergeOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  constructor(options: KubeTaskStoreOptions) {
    this.namespace = options.namespace;
    const kubeConfig = shareConnections(options.kubeConfig);
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.watcher = new Watch(kubeConfig);
    this.logger = options.logger;
    this.pageSize = options.pageSize ?? 500;
    this.watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
  }

  private get base() {
    return { group: GROUP, version: VERSION, namespace: this.namespace, plural: PLURAL };
  }

  /**
   * Checks that the API server is reachable and serves Tasks in the namespace (the CRD is installed and
   * this identity may list them); throws a KubeApiError that says what to do otherwise.
   */
  async verify(): Promise<void> {
    try {
      await this.api.listNamespacedCustomObject({ ...this.base, limit: 1 });
    } catch (error) {
      const failure = apiFailure(error);
      if (failure?.code === 404) {
        throw new KubeApiError(
          'list tasks',
          failure,
          `the API server does not serve ${PLURAL}.${GROUP}/${VERSION}: install the CRD (kubectl apply -f crds/task.yaml)`,
        );
      }
      if (failure?.code === 401 || failure?.code === 403) {
        throw new KubeApiError(
          'list tasks',
          failure,
          `not allowed to list ${PLURAL}.${GROUP} in namespace ${this.namespace}: ${failure.message} (see the RBAC in charts/fte/templates/rbac.yaml)`,
        );
      }
      throw this.failure('list tasks', error);
    }
  }

  async list(): Promise<TaskList> {
    for (let attempt = 0; ; attempt++) {
      const items: Task[] = [];
      let resourceVersion = '';
      let next: string | undefined;
      try {
        do {
          const page = await this.api.listNamespacedCustomObject({
            ...this.base,
            limit: this.pageSize,
            _continue: next,
          });
          for (const raw of page.items ?? []) {
            const task = this.parse(raw, 'list');
            if (task) items.push(task);
          }
          resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
          next = page.metadata?.continue || undefined;
        } while (next);
        return { items, resourceVersion };
      } catch (error) {
        // A continue token that expired mid-list (410): start the list over, once.
        if (apiFailure(error)?.code === 410 && attempt === 0) continue;
        throw this.failure('list tasks', error);
      }
    }
  }

  async get(name: string): Promise<Task | undefined> {
    try {
      return this.parse(await this.api.getNamespacedCustomObject({ ...this.base, name }), 'get');
    } catch (error) {
      if (apiFailure(error)?.code === 404) return undefined;
      throw this.failure(`get task ${name}`, error);
    }
  }

  async watch(resourceVersion: string, handler: WatchHandler): Promise<WatchHandle> {
    const path = `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(this.namespace)}/${PLURAL}`;
    let lastVersion = resourceVersion;
    let request: AbortController | undefined;
    let finished = false;
    let cleanEnds = 0;
    const close = (error?: Error) => {
      if (finished) return;
      finished = true;
      request?.abort();
      // Never from inside the caller's `await watch(…)`: the handle is in its hands first.
      setImmediate(() => handler.onClose(error));
    };
    const start = async (): Promise<void> => {
      if (finished) return;
      // The library aborts a watch that received nothing for `requestTimeoutMs` (30 s by default, a
      // plain property it does not declare in its types): it must outlast the server's own end of the
      // request, or a quiet watch would be cut every 30 s. Without that property, stay under 30 s.
      const timer = this.watcher as unknown as { requestTimeoutMs?: unknown };
      const canExtend = typeof timer.requestTimeoutMs === 'number';
      const wanted = canExtend ? this.watchTimeoutSeconds : Math.min(this.watchTimeoutSeconds, 25);
      const timeoutSeconds = Math.max(1, Math.round(wanted * (0.8 + Math.random() * 0.2)));
      if (canExtend) timer.requestTimeoutMs = (timeoutSeconds + 30) * 1000;
      const startedAt = Date.now();
      request = await this.watcher.watch(
        path,
        { resourceVersion: lastVersion, allowWatchBookmarks: true, timeoutSeconds },
        (type: string, object: unknown) => {
          if (finished) return;
          const meta = (object as { metadata?: { resourceVersion?: string } } | null)?.metadata;
          if (type === 'BOOKMARK') {
            if (meta?.resourceVersion) lastVersion = meta.resourceVersion;
            return;
          }
          if (type === 'ERROR') {
            const status = object as { code?: number; message?: string };
            if (status.code === 410) close(new GoneError(lastVersion));
            else
              close(new Error(`task watch: ${status.message ?? 'error event'} (code ${status.code ?? '?'})`));
            return;
          }
          if (!WATCH_TYPES.has(type)) return;
          const task = this.parse(object, 'watch');
          if (meta?.resourceVersion) lastVersion = meta.resourceVersion;
          if (task) handler.onEvent({ type: type as WatchEventType, object: task });
        },
        (error: unknown) => {
          if (finished) return;
          if (error) {
            const code = (error as { statusCode?: number }).statusCode;
            close(
              code === 410 ? new GoneError(lastVersion) : new Error(`task watch: ${describeApiError(error)}`),
            );
            return;
          }
          // The server ended the request (its timeout, or a graceful restart): watch on from where we were.
          // A server that keeps ending watches at once is treated as a failure, so the caller backs off.
          cleanEnds = Date.now() - startedAt < 1000 ? cleanEnds + 1 : 0;
          if (cleanEnds >= 3) {
            close(new Error('task watch: the server keeps ending the watch at once'));
            return;
          }
          this.logger?.debug(
            { resourceVersion: lastVersion },
            'task watch ended by the server; watching again',
          );
          void start();
        },
      );
    };
    await start();
    return {
      stop: () => {
        finished = true;
        request?.abort();
      },
    };
  }

  async apply(name: string, spec: TaskSpec, options: ApplyOptions): Promise<Task> {
    const body = {
      apiVersion: API_VERSION,
      kind: KIND,
      // An empty map would be stored as no map, so every apply would look like a change: leave it out.
      metadata: {
        name,
        namespace: this.namespace,
        ...(options.labels && Object.keys(options.labels).length > 0 ? { labels: options.labels } : {}),
        ...(options.annotations && Object.keys(options.annotations).length > 0
          ? { annotations: options.annotations }
          : {}),
      },
      spec,
    };
    try {
      const applied = await this.api.patchNamespacedCustomObject(
        { ...this.base, name, body, fieldManager: options.fieldManager, force: true },
        this.applyOptions,
      );
      return this.parseOrThrow(applied, name);
    } catch (error) {
      throw this.writeFailure(`apply task ${name}`, name, error);
    }
  }

  async patchStatus(name: string, patch: StatusPatch, options: StatusPatchOptions): Promise<Task> {
    const body: Record<string, unknown> = { status: patch };
    if (options.resourceVersion !== undefined) body.metadata = { resourceVersion: options.resourceVersion };
    try {
      const patched = await this.api.patchNamespacedCustomObjectStatus(
        { ...this.base, name, body, fieldManager: options.fieldManager },
        this.mergeOptions,
      );
      return this.parseOrThrow(patched, name);
    } catch (error) {
      const failure = apiFailure(error);
      if (failure?.code === 409) throw new ConflictError(name, options.resourceVersion ?? '', 'newer');
      throw this.writeFailure(`patch status of task ${name}`, name, error);
    }
  }

  async delete(name: string): Promise<boolean> {
    try {
      await this.api.deleteNamespacedCustomObject({ ...this.base, name });
      return true;
    } catch (error) {
      if (apiFailure(error)?.code === 404) return false;
      throw this.failure(`delete task ${name}`, error);
    }
  }

  private parse(raw: unknown, where: string): Task | undefined {
    const parsed = Task.safeParse(raw);
    if (parsed.success) return deepFreeze(parsed.data);
    const name = (raw as { metadata?: { name?: string } } | null)?.metadata?.name ?? '?';
    this.logger?.warn(
      { name, where, err: parsed.error.message },
      'ignoring a Task that does not match the schema',
    );
    return undefined;
  }

  private parseOrThrow(raw: unknown, name: string): Task {
    const task = this.parse(raw, 'write');
    if (!task)
      throw new InvalidError(
        `task ${name}: the API server returned an object that does not match the schema`,
      );
    return task;
  }

  private writeFailure(operation: string, name: string, error: unknown): Error {
    const failure = apiFailure(error);
    if (failure?.code === 404) return new NotFoundError(name);
    if (failure?.code === 422) return new InvalidError(`${operation}: ${failure.message}`);
    return this.failure(operation, error);
  }

  private failure(operation: string, error: unknown): Error {
    return new KubeApiError(operation, apiFailure(error), describeApiError(error));
  }
}
