import type { SyncReport } from '../core/vault-repo.js';
import { type Condition, setCondition } from './task.js';
import type { VaultStatus, VaultSyncState } from './vault-resource.js';

/**
 * The Vault resource's status from the git-sync sidecar's cycles (pure; ADR 0008). It remembers what a
 * single report does not say: when the clone last synced and since when it has not, so `lagSeconds` is the
 * time the clone has been behind the remote or unable to reach it.
 */

/** What of a sync report the status needs. */
export type SyncCycle = Pick<SyncReport, 'state' | 'error' | 'remoteRefused' | 'head' | 'remoteHead'>;

const MAX_REASON = 1000;

function oneLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim()) ?? text;
  return line.length > MAX_REASON ? `${line.slice(0, MAX_REASON)}…` : line;
}

function cycleState(cycle: SyncCycle): { state: VaultSyncState; reason?: string } {
  switch (cycle.state) {
    case 'synced':
      return { state: 'synced' };
    case 'refused':
      return { state: 'refused', reason: oneLine(cycle.remoteRefused?.reason ?? cycle.error ?? 'refused') };
    case 'local-only':
      return { state: 'offline', reason: 'the clone has no remote configured' };
    case 'offline':
      return { state: 'offline', reason: oneLine(cycle.error ?? 'remote unreachable') };
  }
}

export class VaultStatusTracker {
  private lastSyncedCommit: string | undefined;
  private lastSyncedAt: Date | undefined;
  /** The first cycle of this process that did not sync, when none synced since. */
  private failingSince: Date | undefined;
  private conditions: Condition[];
  private remoteCommit: string | undefined;

  /** Starts from the status already on the resource (a restarted sidecar keeps its history). */
  constructor(previous?: VaultStatus) {
    this.lastSyncedCommit = previous?.lastSyncedCommit;
    const at = previous?.lastSyncTime ? new Date(previous.lastSyncTime) : undefined;
    this.lastSyncedAt = at && !Number.isNaN(at.getTime()) ? at : undefined;
    this.conditions = [...(previous?.conditions ?? [])];
    this.remoteCommit = previous?.remoteCommit;
  }

  /** The status after `cycle` (conditions keep their transition time while their status holds). */
  next(cycle: SyncCycle, generation: number | undefined, now: Date): VaultStatus {
    const { state, reason } = cycleState(cycle);
    if (cycle.remoteHead) this.remoteCommit = cycle.remoteHead;
    if (state === 'synced') {
      this.lastSyncedAt = now;
      this.failingSince = undefined;
      if (cycle.head) this.lastSyncedCommit = cycle.head;
    } else {
      this.failingSince ??= now;
    }
    const short = this.lastSyncedCommit?.slice(0, 12);
    const conditionReason = state === 'synced' ? 'Synced' : state === 'offline' ? 'Offline' : 'RemoteRefused';
    const message = state === 'synced' ? `synced at ${short ?? 'an empty remote'}` : (reason ?? '');
    let conditions = setCondition(
      this.conditions,
      { type: 'Ready', status: state === 'synced' ? 'True' : 'False', reason: conditionReason, message },
      now,
    );
    conditions = setCondition(
      conditions,
      { type: 'Synced', status: state === 'synced' ? 'True' : 'False', reason: conditionReason, message },
      now,
    );
    conditions = setCondition(
      conditions,
      state === 'refused'
        ? {
            type: 'RemoteRefused',
            status: 'True',
            reason: 'RemoteRefused',
            message: `${reason ?? ''} (commit ${cycle.remoteRefused?.commit.slice(0, 12) ?? '?'})`,
          }
        : state === 'synced'
          ? { type: 'RemoteRefused', status: 'False', reason: 'RemoteAccepted', message: '' }
          : // Offline says nothing about the remote's content: what was known stays.
            (this.conditions.find((c) => c.type === 'RemoteRefused') ?? {
              type: 'RemoteRefused',
              status: 'Unknown',
              reason: 'NotChecked',
              message: 'the remote has not been reached yet',
            }),
      now,
    );
    this.conditions = conditions;
    const since = state === 'synced' ? now : (this.lastSyncedAt ?? this.failingSince ?? now);
    const status: VaultStatus = {
      state,
      lagSeconds: Math.max(0, Math.floor((now.getTime() - since.getTime()) / 1000)),
      conditions,
    };
    if (reason) status.reason = reason;
    if (this.lastSyncedCommit) {
      status.lastSyncedCommit = this.lastSyncedCommit;
      status.shortCommit = short;
    }
    if (this.lastSyncedAt) status.lastSyncTime = this.lastSyncedAt.toISOString();
    if (this.remoteCommit) status.remoteCommit = this.remoteCommit;
    if (generation !== undefined) status.observedGeneration = generation;
    return status;
  }
}

/** The status without what moves on every cycle (times and lag): a difference here is worth a write now. */
function essential(status: VaultStatus): string {
  const { lastSyncTime: _time, lagSeconds: _lag, ...rest } = status;
  return JSON.stringify(rest);
}

/**
 * Whether `next` should be written: when something other than the clock changed, or as a heartbeat once
 * `heartbeatMs` passed since the last write (so lag and last sync time stay fresh).
 */
export function worthWriting(
  written: { status: VaultStatus; at: number } | undefined,
  next: VaultStatus,
  now: number,
  heartbeatMs: number,
): boolean {
  if (!written) return true;
  if (essential(written.status) !== essential(next)) return true;
  return now - written.at >= heartbeatMs;
}
