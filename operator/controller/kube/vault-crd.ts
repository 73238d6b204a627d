import { VAULT_KIND, VAULT_PLURAL, VaultSpec, VaultStatus } from '../../vault-resource.js';
import { asConditionListMap, crdHeader, crdYaml, namespacedCrd, objectSchema } from './crd.js';

/**
 * The Vault CRD (DESIGN.md §3, ADR 0008), generated from the zod schemas in operator/vault-resource.ts
 * like the Task CRD: `crds/vault.yaml` is this module's output (gen-crd.js writes and checks both).
 * The spec is described as a writer writes it (`io: 'input'`): defaulted fields are optional and the API
 * server fills in the same defaults zod would.
 */

/** `kubectl get vaults` shows the first six; `-o wide` adds the priority-1 ones. */
export const VAULT_PRINTER_COLUMNS = [
  { name: 'URL', type: 'string', jsonPath: '.spec.url' },
  { name: 'Branch', type: 'string', jsonPath: '.spec.branch' },
  { name: 'Commit', type: 'string', jsonPath: '.status.shortCommit' },
  { name: 'Lag', type: 'integer', jsonPath: '.status.lagSeconds', description: 'seconds behind the remote' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  { name: 'State', type: 'string', jsonPath: '.status.state', priority: 1 },
  { name: 'Interval', type: 'integer', jsonPath: '.spec.intervalSeconds', priority: 1 },
  { name: 'Last-Sync', type: 'date', jsonPath: '.status.lastSyncTime', priority: 1 },
  { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
] as const;

export function vaultCrd(): Record<string, unknown> {
  const spec = objectSchema(
    VaultSpec,
    'The git source of the vault and the operator settings; edit it to change them without a restart.',
    'input',
  );
  const status = objectSchema(
    VaultStatus,
    "The git-sync sidecar's last sync cycle; written by the sidecar only.",
  );
  asConditionListMap(status, 'VaultStatus');
  return namespacedCrd({
    plural: VAULT_PLURAL,
    kind: VAULT_KIND,
    shortName: 'fv',
    printerColumns: VAULT_PRINTER_COLUMNS,
    description:
      'One fte installation: the git remote of its vault, how often the sidecar syncs it, and what the operator works on.',
    spec,
    status,
  });
}

export function vaultCrdYaml(): string {
  return crdYaml(
    crdHeader('operator/vault-resource.ts', 'operator/controller/kube/vault-crd.ts'),
    vaultCrd(),
  );
}
