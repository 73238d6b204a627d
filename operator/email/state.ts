import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { EXIT, FteError } from '../../core/errors.js';
import { isErrno, writeFileAtomic } from '../../core/fsutil.js';

/**
 * Where the watcher is in one mailbox, kept local to the cloud clone (`.fte/imap/`, gitignored): the
 * mailbox's UIDVALIDITY and the highest UID already turned into a vault change. Messages are handled in
 * UID order and the mark moves only after the vault change is committed, so a crash replays at most the
 * message in flight, and the vault check (EmailIntake.known) makes that replay a no-op. The \Seen flag
 * is never read or set: the owner reading a mail on their phone changes nothing here.
 *
 * Handled Message-IDs are kept too (hashed, one line each in `<key>.ids`, appended), so that when the
 * server resets UIDVALIDITY (a rebuilt mailbox renumbers everything) the rescan recognises messages
 * already taken in even if their task files have left the vault.
 */

export const MailboxState = z.object({
  version: z.literal(1),
  account: z.string(),
  uid_validity: z.string(),
  /** Every message with a UID up to this one has been handled (or was before the start window). */
  last_uid: z.number().int().nonnegative(),
  /** During the first scan: the highest UID that existed when watching began (the start window's end). */
  scan_until: z.number().int().nonnegative().nullable(),
  /** When this mailbox was first watched, and where the start window began. */
  started_at: z.string(),
  since: z.string().nullable(),
  updated_at: z.string(),
});
export type MailboxState = z.infer<typeof MailboxState>;

const MAX_RECENT = 20_000;

export function messageIdKey(messageId: string): string {
  return createHash('sha256').update(messageId.trim()).digest('hex').slice(0, 24);
}

/** The watcher's own state file is unreadable (it lives outside the vault; a data error). */
export class StateFileError extends FteError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.dataError });
  }
}

export class MailboxStateStore {
  readonly path: string;
  private readonly idsPath: string;
  private recent = new Set<string>();

  constructor(dir: string, account: string) {
    const key = createHash('sha256').update(account).digest('hex').slice(0, 16);
    this.path = join(dir, `${key}.json`);
    this.idsPath = join(dir, `${key}.ids`);
  }

  /** The saved state, or undefined for a mailbox never watched from this clone. A corrupt file is an error. */
  async load(): Promise<MailboxState | undefined> {
    this.recent = new Set(await this.readIds());
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
    try {
      return MailboxState.parse(JSON.parse(text));
    } catch (error) {
      throw new StateFileError(
        `IMAP state file ${this.path} is damaged (${(error as Error).message.split('\n')[0]}); remove it to rescan the start window (nothing is taken in twice)`,
      );
    }
  }

  private async readIds(): Promise<string[]> {
    let text: string;
    try {
      text = await readFile(this.idsPath, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
    const ids = text.split('\n').filter((line) => /^[0-9a-f]{24}$/.test(line));
    if (ids.length > MAX_RECENT * 2) {
      const kept = ids.slice(-MAX_RECENT);
      await writeFileAtomic(this.idsPath, `${kept.join('\n')}\n`);
      return kept;
    }
    return ids;
  }

  hasRecent(messageId: string): boolean {
    return this.recent.has(messageIdKey(messageId));
  }

  /** Records a handled Message-ID (before the UID mark moves past it). */
  async rememberMessageId(messageId: string): Promise<void> {
    const key = messageIdKey(messageId);
    if (this.recent.has(key)) return;
    this.recent.add(key);
    await mkdir(dirname(this.idsPath), { recursive: true });
    await appendFile(this.idsPath, `${key}\n`);
  }

  async save(state: MailboxState): Promise<MailboxState> {
    const next = MailboxState.parse(state);
    await writeFileAtomic(this.path, `${JSON.stringify(next)}\n`);
    return next;
  }
}
