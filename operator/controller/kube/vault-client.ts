import { setTimeout as sleep } from 'node:timers/promises';
import {
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { VAULT_PLURAL, VaultResource, VaultStatus } from '../../vault-resource.js';
import { apiFailure, describeApiError, KubeApiError } from './api-errors.js';
import { connectKube } from './config.js';
import { shareConnections } from './connections.js';
import { GROUP, VERSION } from './task-store.js';

export type KubeVaultClientOptions = {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The Vault's name. */
  name: string;
  /** Field manager of status writes. */
  fieldManager?: string;
};

export type FollowOptions = {
  signal: AbortSignal;
  /** A readable Vault whose generation (spec) differs from the last one delivered. */
  onSpec(vault: VaultResource): void;
  /** A failed read or watch; following goes on after a backoff. */
  onError(message: string): void;
  /** First retry delay after a failure (doubles up to 30 s). */
  retryMs?: number;
};

/** How long one watch request stays open; under the client library's 30 s idle abort. */
const WATCH_SECONDS = 25;
const MAX_RETRY_MS = 30_000;

/**
 * One Vault resource (`vaults.fte.dev`) in one namespace: read it, follow its spec (a watch on its name,
 * read again whenever the watch ends, so a missed event costs at most one watch period), and write its
 * status through the status subresource. Objects are parsed with the zod schema the CRD comes from.
 */
export class KubeVaultClient {
  readonly name: string;
  readonly namespace: string;
  private readonly api: CustomObjectsApi;
  private readonly watcher: Watch;
  private readonly fieldManager: string;
  private readonly mergeOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  /**
   * The client for Vault `name`, connected the way `--store kube` connects: `kubeconfig`, else $KUBECONFIG,
   * in-cluster, ~/.kube/config; the namespace from `namespace`, else $POD_NAMESPACE or the context's. A
   * configuration that cannot be found is a ConfigError (exit 78): a mistake to fix, not an outage.
   */
  static connect(options: { name: string; kubeconfig?: string; namespace?: string; env: NodeJS.ProcessEnv }) {
    const connection = connectKube({
      kubeconfig: options.kubeconfig,
      namespace: options.namespace,
      env: options.env,
    });
    return new KubeVaultClient({
      kubeConfig: connection.kubeConfig,
      namespace: connection.namespace,
      name: options.name,
    });
  }

  constructor(options: KubeVaultClientOptions) {
    const kubeConfig = shareConnections(options.kubeConfig);
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.watcher = new Watch(kubeConfig);
    this.name = options.name;
    this.namespace = options.namespace;
    this.fieldManager = options.fieldManager ?? 'fte-sync';
  }

  private get base() {
    return { group: GROUP, version: VERSION, namespace: this.namespace, plural: VAULT_PLURAL };
  }

  private get what(): string {
    return `vault ${this.name} in namespace ${this.namespace}`;
  }

  /** The Vault, or a KubeApiError that says what to do (not found, not allowed, unreadable). */
  async get(): Promise<VaultResource> {
    let raw: unknown;
    try {
      raw = await this.api.getNamespacedCustomObject({ ...this.base, name: this.name });
    } catch (error) {
      const failure = apiFailure(error);
      if (failure?.code === 404) {
        throw new KubeApiError(
          `get ${this.what}`,
          failure,
          `no such Vault (or the CRD is not installed: kubectl apply -f crds/vault.yaml)`,
        );
      }
      if (failure?.code === 401 || failure?.code === 403) {
        throw new KubeApiError(`get ${this.what}`, failure, `not allowed: ${failure.message}`);
      }
      throw new KubeApiError(`get ${this.what}`, failure, describeApiError(error));
    }
    return this.parse(raw);
  }

  /** Follows the spec until `signal` aborts; never throws (failures go to `onError`, then it retries). */
  async follow(options: FollowOptions): Promise<void> {
    const { signal } = options;
    let generation: number | undefined;
    const deliver = (vault: VaultResource) => {
      if (vault.metadata.generation === generation) return;
      generation = vault.metadata.generation;
      options.onSpec(vault);
    };
    let failures = 0;
    while (!signal.aborted) {
      try {
        const vault = await this.get();
        deliver(vault);
        const started = Date.now();
        await this.watchOnce(vault.metadata.resourceVersion, deliver, options.onError, signal);
        // A server that ends every watch at once is a failure (backoff), not a reason to spin.
        if (Date.now() - started < 1000 && !signal.aborted) throw new Error('the watch ended at once');
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        options.onError((error as Error).message);
        const delay = Math.min(MAX_RETRY_MS, (options.retryMs ?? 1000) * 2 ** (failures - 1));
        await sleep(delay, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** Watches the Vault from `resourceVersion` until the server ends the request; rejects on an error. */
  private watchOnce(
    resourceVersion: string,
    deliver: (vault: VaultResource) => void,
    onError: (message: string) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const path = `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(this.namespace)}/${VAULT_PLURAL}`;
    return new Promise<void>((resolve, reject) => {
      let request: AbortController | undefined;
      const onAbort = () => request?.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const finish = (error?: Error) => {
        signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      this.watcher
        .watch(
          path,
          {
            fieldSelector: `metadata.name=${this.name}`,
            resourceVersion,
            timeoutSeconds: WATCH_SECONDS,
          },
          (type: string, object: unknown) => {
            if (type === 'ADDED' || type === 'MODIFIED') {
              try {
                deliver(this.parse(object));
              } catch (error) {
                onError((error as Error).message);
              }
            } else if (type === 'DELETED') {
              onError(`${this.what} was deleted; keeping the last settings`);
            } else if (type === 'ERROR') {
              const status = object as { code?: number; message?: string };
              request?.abort();
              finish(new Error(`watch: ${status.message ?? 'error event'} (code ${status.code ?? '?'})`));
            }
          },
          (error: unknown) => {
            if (error && !signal.aborted) finish(new Error(`watch: ${describeApiError(error)}`));
            else finish();
          },
        )
        .then((controller) => {
          request = controller;
          if (signal.aborted) controller.abort();
        })
        .catch((error: unknown) => finish(new Error(`watch: ${describeApiError(error)}`)));
    });
  }

  /**
   * Replaces the status (JSON merge patch on the status subresource; fields the new status leaves out are
   * removed). The sidecar is the status's only writer, so no resourceVersion is sent.
   */
  async patchStatus(status: VaultStatus): Promise<void> {
    const body: Record<string, unknown> = {};
    for (const key of Object.keys(VaultStatus.shape)) body[key] = null;
    Object.assign(body, VaultStatus.parse(status));
    try {
      await this.api.patchNamespacedCustomObjectStatus(
        { ...this.base, name: this.name, body: { status: body }, fieldManager: this.fieldManager },
        this.mergeOptions,
      );
    } catch (error) {
      throw new KubeApiError(`patch status of ${this.what}`, apiFailure(error), describeApiError(error));
    }
  }

  private parse(raw: unknown): VaultResource {
    const parsed = VaultResource.safeParse(raw);
    if (parsed.success) return parsed.data;
    throw new Error(`${this.what} does not match the schema: ${parsed.error.message.slice(0, 500)}`);
  }
}
