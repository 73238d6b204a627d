/**
 * A task's phases, in the order they happen (DESIGN.md §2). No imports: the status page's bundle
 * (dashboard/) uses this list too.
 */
export const PHASES = [
  'NeedsAction',
  'InProgress',
  'PendingApproval',
  'Approved',
  'Executing',
  'Done',
  'Rejected',
  'Failed',
] as const;
export type Phase = (typeof PHASES)[number];
