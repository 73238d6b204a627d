import { KubeVaultClient } from '../operator/controller/kube/vault-client.js';
import type { VaultResource, VaultStatus } from '../operator/vault-resource.js';
import { type SyncCycle, VaultStatusTracker, worthWriting } from '../operator/vault-status.js';

/**
 * `fte sync --vault-resource <name>` (ADR 0008): the git-sync sidecar follows the Vault's spec (its sync
 * interval, live) and writes every cycle's outcome to the Vault's status. The Kubernetes API is never in
 * the way of syncing: a read or write that fails is logged and tried again later, and writes run in the
 * background, one at a time, the newest status winning.
 */

export const HEARTBEAT_MS = 30_000;

export type SyncVaultLink = {
  /** spec.agent when the Vault could be read at start. */
  readonly agent: string | undefined;
  /** spec.intervalSeconds in ms, once the Vault was read. */
  intervalMs(): number | undefined;
  /** Calls `wake` when the spec changed (so a shorter interval applies at once); returns an unsubscribe. */
  onSpecChange(wake: () => void): () => void;
  /** Records a cycle's outcome; the status is written in the background when worth it. */
  report(cycle: SyncCycle): void;
  /** Waits for the writes in flight (for `--once` and a stop). */
  flush(): Promise<void>;
  close(): Promise<void>;
};

export async function linkVaultResource(options: {
  name: string;
  kubeconfig?: string;
  namespace?: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  heartbeatMs?: number;
}): Promise<SyncVaultLink> {
  const client = KubeVaultClient.connect(options);
  const { log } = options;
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  let vault: VaultResource | undefined;
  try {
    vault = await client.get();
  } catch (error) {
    log(`Vault resource: ${(error as Error).message}; syncing with the command-line settings meanwhile`);
  }
  const tracker = new VaultStatusTracker(vault?.status);
  const wakes = new Set<() => void>();
  const stop = new AbortController();
  const following = client.follow({
    signal: stop.signal,
    onSpec: (next) => {
      const before = vault?.spec.intervalSeconds;
      vault = next;
      if (before !== next.spec.intervalSeconds)
        log(`Vault ${options.name}: spec.intervalSeconds is ${next.spec.intervalSeconds}`);
      for (const wake of wakes) wake();
    },
    onError: (message) => log(`Vault resource: ${message}`),
  });

  let lastCycle: SyncCycle | undefined;
  let written: { status: VaultStatus; at: number } | undefined;
  let pending: VaultStatus | undefined;
  let writing: Promise<void> | undefined;
  const write = (status: VaultStatus) => {
    pending = status;
    if (writing) return;
    writing = (async () => {
      while (pending) {
        const next = pending;
        pending = undefined;
        try {
          await client.patchStatus(next);
          written = { status: next, at: Date.now() };
        } catch (error) {
          log(`Vault resource: ${(error as Error).message}`);
        }
      }
      writing = undefined;
    })();
  };
  const consider = (cycle: SyncCycle) => {
    const status = tracker.next(cycle, vault?.metadata.generation, new Date());
    if (worthWriting(written, status, Date.now(), heartbeatMs)) write(status);
  };
  // A long interval must not leave the lag stale: the last outcome is written again on the heartbeat.
  const heartbeat = setInterval(() => {
    if (lastCycle && !writing && (!written || Date.now() - written.at >= heartbeatMs)) consider(lastCycle);
  }, heartbeatMs);
  heartbeat.unref();

  return {
    get agent() {
      return vault?.spec.agent;
    },
    intervalMs: () => (vault ? vault.spec.intervalSeconds * 1000 : undefined),
    onSpecChange(wake) {
      wakes.add(wake);
      return () => wakes.delete(wake);
    },
    report(cycle) {
      lastCycle = cycle;
      consider(cycle);
    },
    async flush() {
      while (writing) await writing;
    },
    async close() {
      clearInterval(heartbeat);
      stop.abort();
      await following;
      while (writing) await writing;
    },
  };
}
