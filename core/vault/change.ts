import { z } from 'zod';
import type { ClaimOutcome, SyncReport } from '../vault-repo.js';
import { pathComponents } from './safe-fs.js';

/**
 * Changes as data (DESIGN.md §4). A step never touches git or writes the vault itself: it describes what it
 * wants as a VaultChange and hands it to a VaultPort, which checks the preconditions, applies every
 * operation and commits them as one commit, or refuses the whole change. Like a Kubernetes request with a
 * resourceVersion: the caller decided on what it read, and the port refuses when that is no longer true.
 * The same JSON crosses the loopback HTTP port between the operator and its git-sync sidecar.
 */

const VaultPath = z.string().refine((path) => pathComponents(path) !== undefined, {
  message: 'must be a plain vault-relative path (no absolute path, "..", ".git" or empty component)',
});

export const Precondition = z.discriminatedUnion('kind', [
  /** The file exists and its bytes hash to this SHA-256 (what the step read is still what is there). */
  z.object({ kind: z.literal('sha256'), path: VaultPath, sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  z.object({ kind: z.literal('absent'), path: VaultPath }),
  z.object({ kind: z.literal('present'), path: VaultPath }),
]);
export type Precondition = z.infer<typeof Precondition>;

export const Operation = z.discriminatedUnion('op', [
  /**
   * `create`: refuse the whole change if something is already there; `replace`: overwrite;
   * `ensure`: write only if absent, keep what is there (signals repeated after a crash).
   */
  z.object({
    op: z.literal('write'),
    path: VaultPath,
    content: z.string(),
    /** `base64` for bytes that are not text (the raw original of an unreadable message). */
    encoding: z.enum(['utf8', 'base64']).default('utf8'),
    mode: z.enum(['create', 'replace', 'ensure']).default('create'),
  }),
  /** Moves a regular file; refused when the source is missing or the target exists. */
  z.object({ op: z.literal('move'), from: VaultPath, to: VaultPath }),
  /** Removes a file (or a link itself); nothing happens when it is already gone. */
  z.object({ op: z.literal('delete'), path: VaultPath }),
]);
export type Operation = z.input<typeof Operation>;

/** An audit record as a step describes it; the port stamps the time (core/audit.ts). */
export const AuditEntry = z.looseObject({
  action_type: z.string().min(1),
  actor: z.string().min(1),
  target: z.string(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  approval_status: z.string().optional(),
  approved_by: z.string().nullable().optional(),
  result: z.string(),
  task: z.string().optional(),
  idempotency_key: z.string().optional(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** Commit messages follow ADR 0001: `<agent>: <verb> <id>` (claims and expiries are matched on it). */
const CommitMessage = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,39}: [a-z][a-z0-9_-]*( [^\s]{1,200})?$/, 'must read "<agent>: <verb> <id>"');

export const VaultChange = z.object({
  message: CommitMessage,
  preconditions: z.array(Precondition).max(1000).default([]),
  operations: z.array(Operation).max(1000),
  audit: z.array(AuditEntry).max(1000).default([]),
});
export type VaultChange = z.input<typeof VaultChange>;
export type ParsedVaultChange = z.output<typeof VaultChange>;

export type SecretRefusal = { path: string; reason: string };

export type ChangeResult =
  /** Applied; `committed` is false only when it changed nothing (e.g. only `ensure` writes of present files). */
  | { kind: 'applied'; committed: boolean; refused: SecretRefusal[] }
  /** Nothing was applied: a precondition (stated or implied by an operation) does not hold. */
  | { kind: 'conflict'; reason: string }
  /** Nothing was applied: the secret guard refused a file the change would write. */
  | { kind: 'secret'; refused: SecretRefusal[] };

/**
 * The one way a step changes the vault. In-process (core/vault/local-port.ts) on a laptop and in `--once`
 * runs; over loopback HTTP (core/vault/http-port.ts) from the operator container to the git-sync sidecar.
 */
export interface VaultPort {
  readonly root: string;
  readonly agent: string;
  apply(change: VaultChange): Promise<ChangeResult>;
  claim(id: string): Promise<ClaimOutcome>;
  sync(): Promise<SyncReport>;
}
