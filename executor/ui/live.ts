import { type Dirent, type FSWatcher, readdirSync, watch } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { ChangeEvent, ChangeTopic } from '../../core/ui-api.js';

/**
 * Live updates for open pages: file-system events in the vault (and the executor's state folder) become
 * one debounced Server-Sent Event `change` naming what changed, sent to every open stream. No polling:
 * a page refetches only the views whose topic is named.
 */

const DEBOUNCE_MS = 60;
const KEEPALIVE_MS = 15_000;
const MAX_STREAMS = 64;

/** Which views a changed vault path concerns; undefined for paths the page never shows (git's own). */
export function topicsOf(path: string): ChangeTopic[] | undefined {
  const p = path.replaceAll('\\', '/');
  if (p === '.git' || p.startsWith('.git/') || p.startsWith('.fte/')) {
    // FETCH_HEAD and the remote state change on a sync: the overview's sync line.
    return p === '.git/FETCH_HEAD' || p.startsWith('.git/fte/') ? ['overview'] : undefined;
  }
  if (p.startsWith('Logs/')) return ['activity', 'overview'];
  return ['tasks', 'overview'];
}

export class LiveFeed {
  private readonly streams = new Set<ServerResponse>();
  private readonly watchers: FSWatcher[] = [];
  private pending = new Set<ChangeTopic>();
  private timer: NodeJS.Timeout | undefined;
  private readonly keepalive: NodeJS.Timeout;

  constructor(
    vaultRoot: string,
    /** Folders outside the vault whose changes concern every view (the state folder: ledger, dashboard). */
    stateDirs: string[] = [],
  ) {
    // The vault's folders recursively, but never git's object store (thousands of folders, all ours):
    // the root and `.git` flat (FETCH_HEAD: a sync ran), `.git/fte` (the remote's state) flat.
    this.watch(vaultRoot, false, (file) => topicsOf(file));
    for (const entry of safeReaddir(vaultRoot)) {
      if (entry.isDirectory() && entry.name !== '.git') {
        this.watch(join(vaultRoot, entry.name), true, (file) => topicsOf(`${entry.name}/${file}`));
      }
    }
    this.watch(join(vaultRoot, '.git'), false, (file) => topicsOf(`.git/${file}`));
    this.watch(join(vaultRoot, '.git', 'fte'), false, (file) => topicsOf(`.git/fte/${file}`));
    for (const dir of stateDirs) this.watch(dir, false, () => ['tasks', 'overview', 'activity']);
    this.keepalive = setInterval(() => this.write(': keepalive\n\n'), KEEPALIVE_MS);
    this.keepalive.unref();
  }

  private watch(dir: string, recursive: boolean, classify: (file: string) => ChangeTopic[] | undefined) {
    try {
      const watcher = watch(dir, { recursive, persistent: false }, (_event, file) => {
        const topics = classify(file?.toString() ?? '');
        if (topics) this.notify(topics);
      });
      watcher.on('error', () => watcher.close());
      this.watchers.push(watcher);
    } catch {
      // A folder that is not there: nothing to watch (the page still loads on demand).
    }
  }

  /** Tells open pages that these views changed (also called after a decision made through the page). */
  notify(topics: ChangeTopic[]): void {
    for (const t of topics) this.pending.add(t);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const event: ChangeEvent = { topics: [...this.pending].sort(), at: new Date().toISOString() };
      this.pending = new Set();
      this.write(`event: change\ndata: ${JSON.stringify(event)}\n\n`);
    }, DEBOUNCE_MS);
  }

  /** Takes an SSE response (headers not sent yet) and keeps it until the client goes; the oldest of too many is closed. */
  attach(res: ServerResponse): void {
    if (this.streams.size >= MAX_STREAMS) {
      const oldest = this.streams.values().next().value;
      oldest?.end();
      if (oldest) this.streams.delete(oldest);
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    this.streams.add(res);
    res.on('close', () => this.streams.delete(res));
  }

  get openStreams(): number {
    return this.streams.size;
  }

  private write(chunk: string): void {
    for (const res of this.streams) res.write(chunk);
  }

  close(): void {
    clearInterval(this.keepalive);
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    for (const res of this.streams) res.end();
    this.streams.clear();
  }
}

function safeReaddir(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}
