import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { type MarkdownDoc, parseMarkdown } from '../frontmatter.js';
import type { ReadResult, VaultFiles } from './safe-fs.js';

/**
 * Vault files read once and parsed once while they stay the same: a long-running reader (the status page)
 * re-reads a file only when its identity, size or modification time changed. A hit costs one `lstat` and
 * reads nothing; a miss reads through VaultFiles (never a link, never an oversized file) as before. Only
 * regular files are ever cached, so a file the remote swaps for a link is refused on the next look.
 */

type Cached = { stamp: string; text: string; doc?: MarkdownDoc | Error; derived: Map<string, unknown> };

const MAX_ENTRIES = 50_000;

export class VaultReadCache {
  private readonly entries = new Map<string, Cached>();

  constructor(private readonly files: VaultFiles) {}

  /** The file's text as VaultFiles reads it, from the cache when unchanged. */
  async readText(path: string): Promise<ReadResult> {
    const cached = await this.lookup(path);
    if (cached) return { kind: 'ok', text: cached.text, bytes: Buffer.byteLength(cached.text) };
    const before = await this.stampOf(path);
    const read = await this.files.readText(path);
    if (read.kind !== 'ok') {
      this.entries.delete(path);
      return read;
    }
    // Cached only when the file did not change while it was read.
    const after = await this.stampOf(path);
    if (before && before === after) this.store(path, { stamp: after, text: read.text, derived: new Map() });
    return read;
  }

  /** The file's frontmatter and body (or the parse error), parsed once per version of the file. */
  async readMarkdown(
    path: string,
  ): Promise<ReadResult | { kind: 'ok'; text: string; doc: MarkdownDoc | Error }> {
    const read = await this.readText(path);
    if (read.kind !== 'ok') return read;
    const entry = this.entries.get(path);
    const doc = entry?.text === read.text && entry.doc ? entry.doc : parseOrError(read.text);
    if (entry?.text === read.text) entry.doc = doc;
    return { kind: 'ok', text: read.text, doc };
  }

  /** Something computed from the file's text (a decoded approval), computed once per version. */
  derive<T>(path: string, text: string, name: string, compute: (text: string) => T): T {
    const entry = this.entries.get(path);
    if (entry?.text !== text) return compute(text);
    if (!entry.derived.has(name)) entry.derived.set(name, compute(text));
    return entry.derived.get(name) as T;
  }

  private async lookup(path: string): Promise<Cached | undefined> {
    const entry = this.entries.get(path);
    if (!entry) return undefined;
    return (await this.stampOf(path)) === entry.stamp ? entry : undefined;
  }

  /** Identity, size and modification time of a regular file; undefined for anything else. */
  private async stampOf(path: string): Promise<string | undefined> {
    const info = await lstat(join(this.files.root, path)).catch(() => undefined);
    if (!info?.isFile()) return undefined;
    return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
  }

  private store(path: string, entry: Cached): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(path, entry);
  }
}

/** parseMarkdown's result, or the error it threw. */
export function parseOrError(text: string): MarkdownDoc | Error {
  try {
    return parseMarkdown(text);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
