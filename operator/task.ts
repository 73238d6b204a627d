import { createHash } from 'node:crypto';
import { z } from 'zod';
import { PHASES } from '../core/layout.js';
import { PRIORITIES } from '../core/schemas.js';

/**
 * The Task resource (DESIGN.md §3): a projection of one vault task into a Kubernetes-style object. The
 * same shape is stored in memory (`--store memory`) and as a custom resource (`--store kube`), so
 * the CRD's schema is generated from these zod schemas. Spec is written by the mirror only (from the
 * files), status by the reconciler only.
 */

export const API_VERSION = 'fte.dev/v1alpha1';
export const KIND = 'Task';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

export const TaskSpec = z.object({
  /** The task id: the item's file stem (may be unsafe for paths; the reconciler checks before use). */
  id: z.string().min(1),
  domain: z.string().min(1),
  /** The item's `type` frontmatter field (`email`, `invoice`, …), when it parses. */
  type: z.string().optional(),
  title: z.string().optional(),
  /** Vault-relative path of the item file (or of the approval, for a task that has no item file). */
  source: z.string().min(1),
  /** Every protocol file of the task, sorted: a move between folders changes the spec (and the generation). */
  files: z.array(z.string()),
  /** sha256 of the item file's bytes. */
  contentSha256: sha256Hex.optional(),
  received: z.string().optional(),
  priority: z.enum(PRIORITIES).optional(),
});
export type TaskSpec = z.infer<typeof TaskSpec>;

export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

/** A Kubernetes API convention condition; a task's conditions form a list map keyed by `type`. */
export const Condition = z.object({
  type: z.string().min(1),
  status: z.enum(CONDITION_STATUSES),
  reason: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, 'must be CamelCase'),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().nonnegative().optional(),
});
export type Condition = z.infer<typeof Condition>;

/** The outcome of triage, recorded on the task so a retry of the draft step does not pay for it again. */
export const TriageRecord = z.object({
  /** The item content the triage was made on; a changed item is triaged again. */
  contentSha256: sha256Hex,
  priority: z.enum(PRIORITIES),
  needsReply: z.boolean(),
  reason: z.string(),
  by: z.string(),
});
export type TriageRecord = z.infer<typeof TriageRecord>;

export const TaskStatus = z.object({
  phase: z.enum(PHASES).optional(),
  /** Agent holding the claim (`In_Progress/<agent>/`). */
  owner: z.string().optional(),
  approvalPath: z.string().optional(),
  expires: z.string().optional(),
  conditions: z.array(Condition).optional(),
  observedGeneration: z.number().int().nonnegative().optional(),
  lastError: z.string().optional(),
  triage: TriageRecord.optional(),
});
export type TaskStatus = z.infer<typeof TaskStatus>;

export const ObjectMeta = z.object({
  name: z.string().min(1),
  namespace: z.string().min(1),
  uid: z.string().min(1),
  resourceVersion: z.string().min(1),
  /** Incremented on every spec change, never on a status change. */
  generation: z.number().int().positive(),
  creationTimestamp: z.string(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

export const Task = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: ObjectMeta,
  spec: TaskSpec,
  status: TaskStatus.optional(),
});
export type Task = z.infer<typeof Task>;

/** Label and annotation keys the mirror sets. */
export const LABELS = { domain: 'fte.dev/domain' } as const;
export const ANNOTATIONS = { id: 'fte.dev/id' } as const;

/**
 * The resource name of a task: a DNS-1123 label made of the lower-cased id and a short hash of the exact
 * id, so ids that differ only in case or in characters a name cannot hold never share a name.
 */
export function taskName(id: string): string {
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 8);
  const readable = id
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 52)
    .replace(/^-+|-+$/g, '');
  return `${readable || 'task'}-${hash}`;
}

/**
 * Sets a condition in a list map keyed by `type`, keeping `lastTransitionTime` when the status did not
 * change. Returns a new list; the input is not modified.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === next.type);
  const previous = index >= 0 ? list[index] : undefined;
  const lastTransitionTime =
    previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString();
  const condition: Condition = { ...next, lastTransitionTime };
  if (index >= 0) list[index] = condition;
  else list.push(condition);
  return list;
}

export function getCondition(task: Pick<Task, 'status'>, type: string): Condition | undefined {
  return task.status?.conditions?.find((c) => c.type === type);
}
