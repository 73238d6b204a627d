import { describe, expect, it } from 'vitest';
import { VaultStatus } from '../../operator/vault-resource.js';
import { VaultStatusTracker, worthWriting } from '../../operator/vault-status.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds));

describe('the Vault status from sync cycles', () => {
  it('synced → offline → refused → synced: state, reason, lag from the last sync, conditions', () => {
    const tracker = new VaultStatusTracker();
    const synced = tracker.next({ state: 'synced', head: A, remoteHead: A }, 1, at(0));
    expect(VaultStatus.parse(synced)).toEqual(synced);
    expect(synced).toMatchObject({
      state: 'synced',
      lastSyncedCommit: A,
      shortCommit: A.slice(0, 12),
      remoteCommit: A,
      lagSeconds: 0,
      lastSyncTime: at(0).toISOString(),
      observedGeneration: 1,
    });
    expect(synced.conditions?.map((c) => [c.type, c.status])).toEqual([
      ['Ready', 'True'],
      ['Synced', 'True'],
      ['RemoteRefused', 'False'],
    ]);

    const offline = tracker.next({ state: 'offline', error: 'fatal: no remote\nmore' }, 1, at(7));
    expect(offline).toMatchObject({ state: 'offline', reason: 'fatal: no remote', lagSeconds: 7 });
    expect(offline.lastSyncedCommit).toBe(A);
    expect(offline.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Offline',
      lastTransitionTime: at(7).toISOString(),
    });
    // Offline says nothing new about the remote's content.
    expect(offline.conditions?.find((c) => c.type === 'RemoteRefused')?.status).toBe('False');

    const refused = tracker.next(
      { state: 'refused', remoteRefused: { reason: 'a .git component', commit: B }, remoteHead: B },
      2,
      at(20),
    );
    expect(refused).toMatchObject({ state: 'refused', reason: 'a .git component', lagSeconds: 20 });
    expect(refused).toMatchObject({ remoteCommit: B, lastSyncedCommit: A, observedGeneration: 2 });
    expect(refused.conditions?.find((c) => c.type === 'RemoteRefused')).toMatchObject({
      status: 'True',
      message: `a .git component (commit ${B.slice(0, 12)})`,
    });
    // Ready stayed False since the offline cycle: its transition time did not move.
    expect(refused.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe(at(7).toISOString());

    const back = tracker.next({ state: 'synced', head: B, remoteHead: B }, 2, at(30));
    expect(back).toMatchObject({ state: 'synced', lagSeconds: 0, lastSyncedCommit: B });
    expect(back.reason).toBeUndefined();
  });

  it('a sidecar that never synced counts lag from its first failing cycle; a restarted one from the last sync', () => {
    const fresh = new VaultStatusTracker();
    expect(fresh.next({ state: 'offline', error: 'x' }, undefined, at(5)).lagSeconds).toBe(0);
    expect(fresh.next({ state: 'offline', error: 'x' }, undefined, at(9)).lagSeconds).toBe(4);
    const restarted = new VaultStatusTracker({ lastSyncTime: at(0).toISOString(), lastSyncedCommit: A });
    expect(restarted.next({ state: 'local-only' }, undefined, at(12))).toMatchObject({
      state: 'offline',
      lagSeconds: 12,
      lastSyncedCommit: A,
      reason: 'the clone has no remote configured',
    });
  });

  it('writes when something but the clock changed, else only on the heartbeat', () => {
    const tracker = new VaultStatusTracker();
    const first = tracker.next({ state: 'offline', error: 'down' }, 1, at(0));
    const later = tracker.next({ state: 'offline', error: 'down' }, 1, at(10));
    expect(worthWriting(undefined, first, 0, 30_000)).toBe(true);
    const written = { status: first, at: 0 };
    expect(worthWriting(written, later, 10_000, 30_000)).toBe(false);
    expect(worthWriting(written, later, 30_000, 30_000)).toBe(true);
    const other = tracker.next({ state: 'offline', error: 'other reason' }, 1, at(11));
    expect(worthWriting(written, other, 11_000, 30_000)).toBe(true);
  });
});
