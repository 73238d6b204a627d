import type { Logger } from 'pino';
import { KubeVaultClient } from '../operator/controller/kube/vault-client.js';
import type { DrafterSettings, VaultSpec } from '../operator/vault-resource.js';

/**
 * `fte operator --vault-resource <name>` (ADR 0008): the operator's settings from the Vault resource. The
 * Vault must be readable at start (a missing or forbidden one is a configuration error); after that its
 * spec is followed, a `kubectl edit` applying without a restart, and an API failure keeps the last
 * settings. Only names of Secrets are in the resource; nothing here reads a Secret.
 */
export type OperatorVaultSettings = {
  /** spec.agent, read at start (a change needs a restart: it names the folder this operator claims into). */
  readonly agent: string;
  /** spec.domains as a set; undefined when the spec does not restrict them. */
  domains(): ReadonlySet<string> | undefined;
  drafter(): DrafterSettings | undefined;
  /** Called after each spec change, once the new settings are in place. */
  onChange(listener: () => void): void;
  stop(): Promise<void>;
};

function describeSpec(spec: VaultSpec): Record<string, unknown> {
  return {
    agent: spec.agent,
    domains: spec.domains ?? 'all',
    drafterModel: spec.drafter?.model,
    drafterMaxTokens: spec.drafter?.maxTokens,
  };
}

export async function operatorVaultSettings(options: {
  name: string;
  kubeconfig?: string;
  namespace?: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}): Promise<OperatorVaultSettings> {
  const client = KubeVaultClient.connect(options);
  const logger = options.logger.child({ vault: options.name, namespace: client.namespace });
  const first = await client.get();
  let spec = first.spec;
  let domains = spec.domains ? new Set(spec.domains) : undefined;
  logger.info(describeSpec(spec), 'settings from the Vault resource');
  const listeners: Array<() => void> = [];
  const stop = new AbortController();
  const following = client.follow({
    signal: stop.signal,
    onSpec: (vault) => {
      const changed = JSON.stringify(vault.spec) !== JSON.stringify(spec);
      if (!changed) return;
      if (vault.spec.agent !== first.spec.agent)
        logger.warn({ agent: vault.spec.agent }, 'spec.agent changed: it takes effect on the next start');
      spec = vault.spec;
      domains = spec.domains ? new Set(spec.domains) : undefined;
      logger.info(
        { ...describeSpec(spec), generation: vault.metadata.generation },
        'Vault resource changed; applying its settings',
      );
      for (const listener of listeners) listener();
    },
    onError: (message) => logger.warn({ err: message }, 'Vault resource: keeping the last settings'),
  });
  return {
    agent: first.spec.agent,
    domains: () => domains,
    drafter: () => spec.drafter,
    onChange: (listener) => listeners.push(listener),
    async stop() {
      stop.abort();
      await following;
    },
  };
}
