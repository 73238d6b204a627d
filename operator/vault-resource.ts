import { z } from 'zod';
import { Condition, ObjectMeta } from './task.js';

/**
 * The Vault resource (`vaults.fte.dev`, DESIGN.md §3, ADR 0008): one per installation, the git source and
 * the operator's settings. The spec is written by whoever installs fte (the chart, `kubectl edit`); the
 * status only by the git-sync sidecar (`fte sync --vault-resource`). crds/vault.yaml is generated from
 * these schemas, so the API server refuses what zod refuses. Secrets are referenced by name only: a value
 * never passes through this resource.
 */

export const VAULT_API_VERSION = 'fte.dev/v1alpha1';
export const VAULT_KIND = 'Vault';
export const VAULT_PLURAL = 'vaults';

/** A folder name as core/layout.ts accepts it (a domain under Needs_Action/, an agent under In_Progress/). */
const folderName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,39}$/, 'must be lower-case letters, digits, - and _ (at most 40)');

/** A Secret's name (DNS-1123 subdomain): a reference, never a value. */
const secretName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a Secret name');

const commitId = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'must be a full commit id');

export const DrafterSettings = z.object({
  /** The Claude model (used when the operator has an Anthropic key); FTE_CLAUDE_MODEL otherwise. */
  model: z.string().min(1).max(200).optional(),
  /** Upper bound of a reply draft's length, in tokens. */
  maxTokens: z.number().int().min(1).max(64_000).optional(),
});
export type DrafterSettings = z.infer<typeof DrafterSettings>;

export const SecretRefs = z.object({
  /** SSH deploy key of the git remote. */
  deployKey: secretName.optional(),
  /** The ConfigMap holding the git host's known_hosts. */
  knownHosts: secretName.optional(),
  /** The `Authorization:` header of an HTTPS remote. */
  httpHeader: secretName.optional(),
  anthropic: secretName.optional(),
  imap: secretName.optional(),
  odoo: secretName.optional(),
});
export type SecretRefs = z.infer<typeof SecretRefs>;

export const VaultSpec = z.object({
  /** The git remote both agents sync with. */
  url: z.string().min(1).max(2048),
  branch: z.string().min(1).max(255).default('main'),
  /** Seconds between sync cycles of the git-sync sidecar; a change applies without a restart. */
  intervalSeconds: z.number().int().min(1).max(86_400).default(10),
  /** The operator's folder under In_Progress/ (read at start). */
  agent: folderName.default('cloud'),
  /**
   * The domains the operator works on (Needs_Action/<domain>/); absent means every domain it has a
   * handler for, empty means none. A change applies without a restart.
   */
  domains: z.array(folderName).max(64).optional(),
  drafter: DrafterSettings.optional(),
  /** Names of the Secrets the chart mounts; the operator never reads a value through this resource. */
  secretRefs: SecretRefs.optional(),
});
export type VaultSpec = z.infer<typeof VaultSpec>;

export const SYNC_STATES = ['synced', 'offline', 'refused'] as const;
export type VaultSyncState = (typeof SYNC_STATES)[number];

export const VaultStatus = z.object({
  /** The clone's HEAD after the last cycle that synced. */
  lastSyncedCommit: commitId.optional(),
  /** Its first 12 characters, for `kubectl get vaults`. */
  shortCommit: z.string().max(64).optional(),
  /** When a cycle last synced. */
  lastSyncTime: z.string().optional(),
  /** The remote's branch tip as last fetched (a refused tip included). */
  remoteCommit: commitId.optional(),
  /** Seconds the clone has been behind the remote or unable to sync; 0 when synced. */
  lagSeconds: z.number().int().nonnegative().optional(),
  state: z.enum(SYNC_STATES).optional(),
  /** Why the state is not `synced` (one line). */
  reason: z.string().max(1024).optional(),
  /** The spec generation the sidecar last read. */
  observedGeneration: z.number().int().nonnegative().optional(),
  /** Ready, Synced, RemoteRefused. */
  conditions: z.array(Condition).optional(),
});
export type VaultStatus = z.infer<typeof VaultStatus>;

export const VaultResource = z.object({
  apiVersion: z.literal(VAULT_API_VERSION),
  kind: z.literal(VAULT_KIND),
  metadata: ObjectMeta,
  spec: VaultSpec,
  status: VaultStatus.optional(),
});
export type VaultResource = z.infer<typeof VaultResource>;
