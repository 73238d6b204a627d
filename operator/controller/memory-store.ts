import { randomUUID } from 'node:crypto';
import { API_VERSION, KIND, type Task, TaskSpec, TaskStatus } from '../task.js';
import {
  type ApplyOptions,
  ConflictError,
  GoneError,
  InvalidError,
  jsonEqual,
  mergePatch,
  NotFoundError,
  type StatusPatch,
  type StatusPatchOptions,
  type TaskList,
  type TaskStore,
  type WatchEvent,
  type WatchHandle,
  type WatchHandler,
} from './store.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export type MemoryStoreOptions = {
  namespace?: string;
  clock?: () => Date;
  /** Events kept for watches that start from an older version; older than that gets GoneError. */
  historySize?: number;
};

type Watcher = { handler: WatchHandler; buffer: WatchEvent[]; scheduled: boolean; stopped: boolean };

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * The embedded task store: an API server in a Map. Objects handed out are frozen (callers must copy
 * before changing, as with an informer's cache), every write gets a new resource version, and watches
 * are delivered asynchronously and in order, like events arriving over a connection.
 */
export class MemoryTaskStore implements TaskStore {
  readonly kind = 'memory';
  private readonly tasks = new Map<string, Task>();
  private readonly history: Array<{ rv: number; event: WatchEvent }> = [];
  private readonly watchers = new Set<Watcher>();
  private readonly namespace: string;
  private readonly clock: () => Date;
  private readonly historySize: number;
  private version = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.namespace = options.namespace ?? 'default';
    this.clock = options.clock ?? (() => new Date());
    this.historySize = options.historySize ?? 1024;
  }

  get size(): number {
    return this.tasks.size;
  }

  async list(): Promise<TaskList> {
    return { items: [...this.tasks.values()], resourceVersion: String(this.version) };
  }

  async get(name: string): Promise<Task | undefined> {
    return this.tasks.get(name);
  }

  async watch(resourceVersion: string, handler: WatchHandler): Promise<WatchHandle> {
    const from = Number(resourceVersion);
    if (!Number.isInteger(from) || from < 0) throw new InvalidError(`bad resourceVersion ${resourceVersion}`);
    const oldest = this.history[0]?.rv;
    if (from < this.version && (oldest === undefined || oldest > from + 1))
      throw new GoneError(resourceVersion);
    const watcher: Watcher = { handler, buffer: [], scheduled: false, stopped: false };
    for (const entry of this.history) if (entry.rv > from) watcher.buffer.push(entry.event);
    this.watchers.add(watcher);
    this.schedule(watcher);
    return {
      stop: () => {
        watcher.stopped = true;
        this.watchers.delete(watcher);
      },
    };
  }

  async apply(name: string, spec: TaskSpec, options: ApplyOptions): Promise<Task> {
    const existing = this.tasks.get(name);
    const labels = options.labels && Object.keys(options.labels).length ? options.labels : undefined;
    const annotations =
      options.annotations && Object.keys(options.annotations).length ? options.annotations : undefined;
    if (
      existing &&
      jsonEqual(existing.spec, spec) &&
      jsonEqual(existing.metadata.labels, labels) &&
      jsonEqual(existing.metadata.annotations, annotations)
    ) {
      return existing;
    }
    if (!DNS_LABEL.test(name)) {
      throw new InvalidError(`invalid task name ${JSON.stringify(name)}: must be a DNS-1123 label`);
    }
    const parsed = TaskSpec.safeParse(spec);
    if (!parsed.success) throw new InvalidError(`task ${name} spec: ${parsed.error.message}`);
    const rv = this.version + 1;
    const generation = existing
      ? existing.metadata.generation + (jsonEqual(existing.spec, parsed.data) ? 0 : 1)
      : 1;
    const task: Task = deepFreeze({
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: {
        name,
        namespace: this.namespace,
        uid: existing?.metadata.uid ?? randomUUID(),
        resourceVersion: String(rv),
        generation,
        creationTimestamp: existing?.metadata.creationTimestamp ?? this.clock().toISOString(),
        labels,
        annotations,
      },
      spec: parsed.data,
      status: existing?.status,
    });
    this.commit(rv, { type: existing ? 'MODIFIED' : 'ADDED', object: task });
    return task;
  }

  async patchStatus(name: string, patch: StatusPatch, options: StatusPatchOptions): Promise<Task> {
    const existing = this.tasks.get(name);
    if (!existing) throw new NotFoundError(name);
    if (
      options.resourceVersion !== undefined &&
      options.resourceVersion !== existing.metadata.resourceVersion
    ) {
      throw new ConflictError(name, options.resourceVersion, existing.metadata.resourceVersion);
    }
    const status = mergePatch(existing.status ?? {}, patch);
    const parsed = TaskStatus.safeParse(status);
    if (!parsed.success) throw new InvalidError(`task ${name} status: ${parsed.error.message}`);
    if (jsonEqual(existing.status ?? {}, parsed.data)) return existing;
    const rv = this.version + 1;
    const task: Task = deepFreeze({
      ...existing,
      metadata: { ...existing.metadata, resourceVersion: String(rv) },
      status: parsed.data,
    });
    this.commit(rv, { type: 'MODIFIED', object: task });
    return task;
  }

  async delete(name: string): Promise<boolean> {
    const existing = this.tasks.get(name);
    if (!existing) return false;
    const rv = this.version + 1;
    const task = deepFreeze({ ...existing, metadata: { ...existing.metadata, resourceVersion: String(rv) } });
    this.commit(rv, { type: 'DELETED', object: task });
    return true;
  }

  /** Closes every watch (as a restarting API server would); watchers relist. */
  closeWatches(error?: Error): void {
    for (const watcher of [...this.watchers]) {
      this.watchers.delete(watcher);
      watcher.stopped = true;
      watcher.handler.onClose(error);
    }
  }

  private commit(rv: number, event: WatchEvent): void {
    this.version = rv;
    if (event.type === 'DELETED') this.tasks.delete(event.object.metadata.name);
    else this.tasks.set(event.object.metadata.name, event.object);
    this.history.push({ rv, event });
    if (this.history.length > this.historySize)
      this.history.splice(0, this.history.length - this.historySize);
    for (const watcher of this.watchers) {
      watcher.buffer.push(event);
      this.schedule(watcher);
    }
  }

  private schedule(watcher: Watcher): void {
    if (watcher.scheduled || watcher.buffer.length === 0) return;
    watcher.scheduled = true;
    queueMicrotask(() => {
      watcher.scheduled = false;
      const events = watcher.buffer.splice(0);
      for (const event of events) {
        if (watcher.stopped) return;
        watcher.handler.onEvent(event);
      }
    });
  }
}
