import { type FSWatcher, watch } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MAX_VAULT_FILE_BYTES } from '../core/codec.js';
import { FOLDERS, locate } from '../core/layout.js';
import { canonicalize, PRIORITIES } from '../core/schemas.js';
import { summarizeTasks } from '../core/status.js';
import { VaultFiles } from '../core/vault/safe-fs.js';
import type { OperatorMetrics } from './controller/metrics.js';
import { jsonEqual, type TaskStore } from './controller/store.js';
import { parseMarkdownFast } from './quick-frontmatter.js';
import { ANNOTATIONS, LABELS, type Task, type TaskSpec, taskName } from './task.js';
import {
  findTaskFiles,
  hashFile,
  mapLimit,
  readListedFileSync,
  scanVault,
  type TaskFile,
} from './vault-files.js';

export const MIRROR_FIELD_MANAGER = 'fte-operator-mirror';

/** What the mirror knows about one file: its frontmatter (or why not) and its hash. */
type FileFacts = { data?: Record<string, unknown>; error?: string; sha256?: string };
type CacheEntry = FileFacts & { size: number; mtimeMs: number; ino: number; ctimeMs: number };

export type MirrorReport = { tasks: number; applied: number; deleted: number; durationMs: number };

export type MirrorOptions = {
  root: string;
  store: TaskStore;
  logger: Logger;
  metrics?: OperatorMetrics;
  /** Runs a read of the vault under the clone's lock, so a scan never sees a rebase half done. */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Applies in flight at once (matters for a remote API server). */
  concurrency?: number;
};

const TWO_LEVEL_TOPS = new Set<string>([FOLDERS.needsAction, FOLDERS.inProgress, FOLDERS.pendingApproval]);
const LABEL_VALUE = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/**
 * Vault files → Tasks, one way (DESIGN.md §1): the spec comes from the files, grouped by task id. A full
 * `resync` lists the vault and applies every task (unchanged files are not read again: a cache keyed by
 * size, mtime, ctime and inode); `refresh(ids)` does the same for a few tasks after a file change; tasks
 * whose files are gone are deleted. An unchanged vault changes nothing in the store.
 */
export class Mirror {
  private readonly cache = new Map<string, CacheEntry>();
  private watchers: FSWatcher[] = [];
  private pending = new Set<string>();
  private debounceTimer: NodeJS.Timeout | undefined;
  private needsFullResync = false;
  /** Links and special files already reported, so each is logged once, not at every resync. */
  private readonly reportedUnsafe = new Set<string>();
  /** Epoch ms of the last completed full resync. */
  lastResyncAt = 0;

  constructor(private readonly options: MirrorOptions) {}

  private get exclusive(): <T>(fn: () => Promise<T>) => Promise<T> {
    return this.options.exclusive ?? ((fn) => fn());
  }

  async resync(): Promise<MirrorReport> {
    const started = performance.now();
    const { store } = this.options;
    const specs = await this.exclusive(async () => {
      const { files, unsafe } = await scanVault(this.options.root);
      this.reportUnsafe(unsafe);
      const seenPaths = new Set(files.map((f) => f.path));
      for (const path of this.cache.keys()) if (!seenPaths.has(path)) this.cache.delete(path);
      const entries: Array<TaskFile & FileFacts> = [];
      for (const file of files) entries.push(Object.assign(file, await this.facts(file)));
      return specsOf(entries);
    });
    // One list instead of a read per task: a task the store already holds as it should be costs nothing
    // (for the API server, a resync of an unchanged vault is one paginated list).
    const existing = await store.list();
    const live = new Map(existing.items.map((task) => [task.metadata.name, task]));
    let applied = 0;
    await mapLimit(specs, this.options.concurrency ?? 32, async (spec) => {
      if (await this.apply(spec, live.get(taskName(spec.id)) ?? null)) applied++;
    });
    const ids = new Set(specs.map((spec) => spec.id));
    let deleted = 0;
    for (const task of existing.items) {
      if (ids.has(task.spec.id)) continue;
      if (await store.delete(task.metadata.name)) deleted++;
    }
    const durationMs = performance.now() - started;
    this.options.metrics?.mirrorDuration.observe(durationMs / 1000);
    this.lastResyncAt = Date.now();
    return { tasks: specs.length, applied, deleted, durationMs };
  }

  /** Mirrors the current files of a few tasks (after a step, or a file change). */
  async refresh(ids: Iterable<string>): Promise<void> {
    for (const id of new Set(ids)) {
      const files = await this.exclusive(async () => {
        const found = await findTaskFiles(this.options.root, id);
        return Promise.all(found.map(async (file) => Object.assign(file, await this.facts(file))));
      });
      const [spec] = specsOf(files);
      if (spec) await this.apply(spec);
      else await this.options.store.delete(taskName(id));
    }
  }

  /**
   * Watches the task folders (not recursively: one watch per folder, so a large vault costs a few dozen
   * inotify watches) and refreshes the tasks whose files changed, `debounceMs` after the last change.
   * A new folder (a new domain) triggers a full resync. Periodic full resyncs catch anything missed.
   */
  async watch(debounceMs = 50): Promise<void> {
    this.stopWatching();
    const root = this.options.root;
    const dirs: string[] = [...TWO_LEVEL_TOPS];
    const vault = new VaultFiles(root);
    for (const top of TWO_LEVEL_TOPS) {
      for (const sub of await vault.listFolders(top)) dirs.push(`${top}/${sub}`);
    }
    dirs.push(FOLDERS.approved, FOLDERS.rejected, FOLDERS.done);
    for (const dir of dirs) {
      try {
        const watcher = watch(join(root, dir), { persistent: false }, (_event, filename) => {
          this.onChange(dir, filename ? String(filename) : undefined, debounceMs);
        });
        watcher.on('error', (error) => {
          this.options.logger.warn(
            { dir, err: error.message },
            'folder watch failed; periodic resync covers it',
          );
          watcher.close();
        });
        this.watchers.push(watcher);
      } catch (error) {
        this.options.logger.debug({ dir, err: (error as Error).message }, 'folder not watched');
      }
    }
  }

  /** Logs each link or special file in the task folders once: it is never read, its task shows Failed. */
  private reportUnsafe(entries: Array<{ path: string; reason: string }>): void {
    const current = new Set(entries.map((e) => e.path));
    for (const path of this.reportedUnsafe) if (!current.has(path)) this.reportedUnsafe.delete(path);
    for (const entry of entries) {
      if (this.reportedUnsafe.has(entry.path)) continue;
      this.reportedUnsafe.add(entry.path);
      this.options.logger.warn({ path: entry.path, reason: entry.reason }, 'unsafe vault entry: not read');
    }
  }

  stopWatching(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    clearTimeout(this.debounceTimer);
    this.debounceTimer = undefined;
  }

  private onChange(dir: string, filename: string | undefined, debounceMs: number): void {
    const location = filename ? locate(`${dir}/${filename}`) : undefined;
    if (location) this.pending.add(location.id);
    // A name without a dot in a top folder is a new sub-folder (a domain or an agent): look at everything.
    else if (!filename || (!dir.includes('/') && !filename.includes('.') && TWO_LEVEL_TOPS.has(dir))) {
      this.needsFullResync = true;
    } else return;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => void this.flush(debounceMs), debounceMs);
    this.debounceTimer.unref();
  }

  private async flush(debounceMs: number): Promise<void> {
    const ids = [...this.pending];
    this.pending.clear();
    const full = this.needsFullResync;
    this.needsFullResync = false;
    try {
      if (full) {
        // Watch first, then read: a file written into a new folder before its watch existed is found by
        // the resync, one written after it by the watch (the other order missed the files in between).
        await this.watch(debounceMs);
        await this.resync();
      } else {
        await this.refresh(ids);
      }
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, 'mirroring changed files failed');
    }
  }

  /** Applies the spec unless `live` (the task as the store holds it; read when not given) already matches. */
  private async apply(spec: TaskSpec, live?: Task | null): Promise<boolean> {
    const name = taskName(spec.id);
    const before = live === undefined ? await this.options.store.get(name) : (live ?? undefined);
    const labels: Record<string, string> = LABEL_VALUE.test(spec.domain)
      ? { [LABELS.domain]: spec.domain }
      : {};
    const annotations = { [ANNOTATIONS.id]: spec.id };
    if (
      before &&
      jsonEqual(before.spec, spec) &&
      jsonEqual(ours(before.metadata.labels), labels) &&
      jsonEqual(ours(before.metadata.annotations), annotations)
    ) {
      return false;
    }
    const task = await this.options.store.apply(name, spec, {
      fieldManager: MIRROR_FIELD_MANAGER,
      labels,
      annotations,
    });
    return task.metadata.resourceVersion !== before?.metadata.resourceVersion;
  }

  /** The file's facts, read again only when its size, times or inode changed since the last look. */
  private async facts(file: TaskFile): Promise<FileFacts> {
    const cached = this.cache.get(file.path);
    if (
      cached &&
      cached.size === file.size &&
      cached.mtimeMs === file.mtimeMs &&
      cached.ino === file.ino &&
      cached.ctimeMs === file.ctimeMs
    ) {
      return cached;
    }
    const facts = await readFacts(this.options.root, file);
    this.cache.set(file.path, {
      ...facts,
      size: file.size,
      mtimeMs: file.mtimeMs,
      ino: file.ino,
      ctimeMs: file.ctimeMs,
    });
    return facts;
  }
}

/** A file's facts, read through VaultFiles: a link or special file is reported, never opened. */
async function readFacts(root: string, file: TaskFile): Promise<FileFacts> {
  if (file.unsafe) return { error: file.unsafe };
  if (file.size > MAX_VAULT_FILE_BYTES) {
    return { sha256: await hashFile(root, file.path), error: `larger than ${MAX_VAULT_FILE_BYTES} bytes` };
  }
  let read: ReturnType<typeof readListedFileSync>;
  try {
    read = readListedFileSync(root, file);
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
  if (!read.ok) return { error: read.problem.message };
  try {
    return { sha256: read.sha256, data: canonicalize(parseMarkdownFast(read.bytes.toString('utf8')).data) };
  } catch (error) {
    return { sha256: read.sha256, error: error instanceof Error ? error.message : String(error) };
  }
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value : undefined;

function priorityOf(value: unknown): TaskSpec['priority'] {
  if (typeof value !== 'string') return undefined;
  const normalized = value.toLowerCase() === 'medium' ? 'normal' : value.toLowerCase();
  return (PRIORITIES as readonly string[]).includes(normalized)
    ? (normalized as TaskSpec['priority'])
    : undefined;
}

/**
 * The specs of the tasks these files make up (pure), grouped by id with `fte status`'s own rules
 * (`summarizeTasks`: phase ranking, domain from frontmatter, folder, type or action).
 */
export function specsOf(files: Array<TaskFile & FileFacts>): TaskSpec[] {
  const byPath = new Map(files.map((f) => [f.path, f]));
  return summarizeTasks(files).map((summary) => {
    const item = summary.paths.map((p) => byPath.get(p)!).find((f) => f.role === 'item');
    const received = str(item?.data?.received);
    return {
      id: summary.id,
      domain: summary.domain || 'unknown',
      type: str(item?.data?.type),
      title: summary.title?.slice(0, 200),
      source: item?.path ?? summary.paths[0]!,
      files: [...summary.paths].sort(),
      contentSha256: item?.sha256,
      received: received && !Number.isNaN(Date.parse(received)) ? received : undefined,
      priority: priorityOf(item?.data?.priority),
    };
  });
}

/** The `fte.dev/` labels or annotations of a task: the mirror's own (others may add theirs). */
function ours(map: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(map ?? {}).filter(([key]) => key.startsWith('fte.dev/')));
}
