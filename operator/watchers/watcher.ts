import type { Logger } from 'pino';
import type { VaultPort } from '../../core/vault/change.js';

/** What a watcher gets from the operator it runs in. */
export type WatcherContext = {
  /** Where items are written: one VaultChange per item (`"<agent>: intake <id>"`), applied as one commit. */
  vault: VaultPort;
  agent: string;
  logger: Logger;
  clock: () => Date;
  /** Aborted when the operator stops. */
  signal: AbortSignal;
  /** Tells the operator that items were written (mirrored at once instead of at the next file event). */
  notify(ids?: string[]): void;
};

/**
 * A source of new items (IMAP inbox, Odoo, schedules): it writes item files into `Needs_Action/<domain>/`
 * and nothing else; the mirror and the reconciler take it from there. `start` returns once the watcher
 * runs (its loop continues in the background); `stop` returns once it has stopped writing.
 */
export interface Watcher {
  readonly name: string;
  start(context: WatcherContext): Promise<void>;
  stop(): Promise<void>;
  /** `--once`: one pass that takes in what is waiting, then returns (watchers without it are skipped). */
  once?(context: Pick<WatcherContext, 'vault' | 'agent' | 'logger' | 'clock'>): Promise<unknown>;
}
