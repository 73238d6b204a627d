import type { Phase } from '../core/layout.js';
import type { Condition, Task } from './task.js';

/**
 * Events tell a task's story step by step (`kubectl describe task` lists them): claimed, drafted,
 * approval requested, expired, failed, and the owner's decisions as the reconciler observes them.
 * Recording is best effort: it never throws and never holds up a reconcile pass.
 */

export type TaskEventType = 'Normal' | 'Warning';

export type TaskEvent = {
  type: TaskEventType;
  /** CamelCase, short: `Claimed`, `Drafted`, `ApprovalRequested`, `Expired`, `Failed`, … */
  reason: string;
  /** What the operator did or saw (`Claim`, `Draft`, …), as events.k8s.io `action`. */
  action: string;
  message: string;
};

export interface EventRecorder {
  record(task: Task, event: TaskEvent): void;
}

/** For runs that keep no events (`--store memory` without a listener). */
export const NO_EVENTS: EventRecorder = { record() {} };

export type RecordedEvent = TaskEvent & { task: string; id: string; time: string };

/** Keeps events in memory (the embedded store's `kubectl describe`, and tests). */
export class MemoryEventRecorder implements EventRecorder {
  readonly events: RecordedEvent[] = [];

  constructor(
    private readonly clock: () => Date = () => new Date(),
    private readonly limit = 10_000,
  ) {}

  record(task: Task, event: TaskEvent): void {
    this.events.push({
      ...event,
      task: task.metadata.name,
      id: task.spec.id,
      time: this.clock().toISOString(),
    });
    if (this.events.length > this.limit) this.events.splice(0, this.events.length - this.limit);
  }

  forTask(name: string): RecordedEvent[] {
    return this.events.filter((e) => e.task === name);
  }
}

type ConditionFacts = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

const PHASE_EVENTS: Partial<
  Record<Phase, Omit<TaskEvent, 'message'> & { message: (from?: Phase) => string }>
> = {
  Approved: {
    type: 'Normal',
    reason: 'Approved',
    action: 'Observe',
    message: () => 'the owner approved the draft',
  },
  Executing: {
    type: 'Normal',
    reason: 'Executing',
    action: 'Observe',
    message: () => 'the local executive is acting on it',
  },
  Done: {
    type: 'Normal',
    reason: 'Done',
    action: 'Observe',
    message: () => 'finished by the local executive',
  },
  Rejected: {
    type: 'Normal',
    reason: 'Rejected',
    action: 'Observe',
    message: () => 'the draft was rejected (or expired unanswered)',
  },
};

/**
 * The events for one status write (pure): the step's outcome (its condition) and a change of phase that
 * the owner or the local executive made. A condition whose status and reason did not change since the
 * previous status says nothing new and yields no event.
 */
export function taskEvents(
  previous: { phase?: Phase; conditions?: readonly Condition[] } | undefined,
  next: { phase?: Phase },
  condition: ConditionFacts | undefined,
): TaskEvent[] {
  const events: TaskEvent[] = [];
  if (condition) {
    const before = previous?.conditions?.find((c) => c.type === condition.type);
    const repeated =
      before?.status === condition.status &&
      before.reason === condition.reason &&
      before.message === condition.message;
    if (!repeated) events.push(...conditionEvents(condition));
  }
  if (next.phase && next.phase !== previous?.phase) {
    const phaseEvent = PHASE_EVENTS[next.phase];
    if (phaseEvent) events.push({ ...phaseEvent, message: phaseEvent.message(previous?.phase) });
  }
  return events;
}

function conditionEvents(c: ConditionFacts): TaskEvent[] {
  const key = `${c.type}/${c.status}/${c.reason}`;
  switch (key) {
    case 'Claimed/True/Won':
      return [{ type: 'Normal', reason: 'Claimed', action: 'Claim', message: c.message }];
    case 'Claimed/False/Lost':
      return [{ type: 'Normal', reason: 'ClaimLost', action: 'Claim', message: c.message }];
    case 'Claimed/False/Missing':
      return [{ type: 'Normal', reason: 'ClaimMissing', action: 'Claim', message: c.message }];
    case 'Claimed/False/Offline':
      return [{ type: 'Warning', reason: 'RemoteUnreachable', action: 'Claim', message: c.message }];
    case 'Triaged/True/NeedsReply':
      return [
        { type: 'Normal', reason: 'Triaged', action: 'Triage', message: `needs a reply: ${c.message}` },
      ];
    case 'Triaged/True/NoReplyNeeded':
      return [{ type: 'Normal', reason: 'NoReplyNeeded', action: 'Triage', message: c.message }];
    case 'Drafted/True/ApprovalRequested':
      return [
        { type: 'Normal', reason: 'Drafted', action: 'Draft', message: 'draft written' },
        { type: 'Normal', reason: 'ApprovalRequested', action: 'RequestApproval', message: c.message },
      ];
    case 'Drafted/False/DrafterError':
      return [{ type: 'Warning', reason: 'DraftFailed', action: 'Draft', message: `${c.message}; retrying` }];
    case 'Drafted/False/DrafterFailed':
      return [{ type: 'Warning', reason: 'Failed', action: 'Draft', message: c.message }];
    case 'Expired/True/Expired':
      return [{ type: 'Normal', reason: 'Expired', action: 'Expire', message: c.message }];
    case 'Failed/True/Quarantined':
      return [{ type: 'Warning', reason: 'Failed', action: 'Quarantine', message: c.message }];
    case 'Stalled/True/RepeatedErrors':
      return [{ type: 'Warning', reason: 'Failed', action: 'Reconcile', message: c.message }];
    default:
      return [
        {
          type: c.status === 'False' ? 'Warning' : 'Normal',
          reason: c.reason,
          action: c.type,
          message: c.message,
        },
      ];
  }
}
