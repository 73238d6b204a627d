import { randomBytes } from 'node:crypto';
import { EventsV1Api, type KubeConfig, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { EventRecorder, TaskEvent } from '../../events.js';
import { API_VERSION, KIND, type Task } from '../../task.js';
import { describeApiError } from './api-errors.js';
import { shareConnections } from './connections.js';

export const REPORTING_CONTROLLER = 'fte.dev/operator';
/** events.k8s.io/v1 limits: note ≤ 1 kB, reason/action/instance ≤ 128 characters. */
const MAX_NOTE_BYTES = 1024;
const MAX_FIELD = 128;
/** Events waiting to be sent beyond this are dropped (and counted): an event storm never grows memory. */
const MAX_PENDING = 1000;

export type KubeEventRecorderOptions = {
  kubeConfig: KubeConfig;
  namespace: string;
  /** This operator instance (the pod name), as `reportingInstance`. */
  instance: string;
  logger: Logger;
};

/**
 * Records task events as events.k8s.io/v1 Events regarding the Task, which `kubectl describe task` lists
 * (it reads them through the core v1 view of the same objects). Sending happens in the background;
 * a failure is logged, never thrown.
 */
export class KubeEventRecorder implements EventRecorder {
  private readonly api: EventsV1Api;
  /** Events are sent one after another, in the order recorded. */
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private lastMicros = 0;
  dropped = 0;
  failed = 0;

  constructor(private readonly options: KubeEventRecorderOptions) {
    this.api = shareConnections(options.kubeConfig).makeApiClient(EventsV1Api);
  }

  record(task: Task, event: TaskEvent): void {
    if (this.pending >= MAX_PENDING) {
      this.dropped++;
      return;
    }
    // Strictly increasing event times (to the microsecond), so `kubectl describe` lists them in order.
    const micros = Math.max(Date.now() * 1000, this.lastMicros + 1);
    this.lastMicros = micros;
    this.pending++;
    this.tail = this.tail.then(() => this.send(task, event, micros)).finally(() => this.pending--);
  }

  /** Resolves when every event recorded so far was sent (or failed). */
  async flush(): Promise<void> {
    await this.tail;
  }

  private async send(task: Task, event: TaskEvent, micros: number): Promise<void> {
    const name = `${task.metadata.name}.${micros.toString(16)}${randomBytes(2).toString('hex')}`;
    try {
      await this.api.createNamespacedEvent({
        namespace: task.metadata.namespace,
        body: {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name, namespace: task.metadata.namespace },
          eventTime: new MicroTime(micros),
          type: event.type,
          reason: event.reason.slice(0, MAX_FIELD),
          action: event.action.slice(0, MAX_FIELD),
          note: truncateBytes(event.message, MAX_NOTE_BYTES),
          reportingController: REPORTING_CONTROLLER,
          reportingInstance: this.options.instance.slice(0, MAX_FIELD),
          regarding: {
            apiVersion: API_VERSION,
            kind: KIND,
            name: task.metadata.name,
            namespace: task.metadata.namespace,
            uid: task.metadata.uid,
            resourceVersion: task.metadata.resourceVersion,
          },
        },
      });
    } catch (error) {
      this.failed++;
      this.options.logger.warn(
        { task: task.spec.id, reason: event.reason, err: describeApiError(error) },
        'recording a task event failed',
      );
    }
  }
}

/** A MicroTime with real microseconds (the library's own pads milliseconds with zeros). */
class MicroTime extends V1MicroTime {
  constructor(private readonly micros: number) {
    super(Math.floor(micros / 1000));
  }

  override toISOString(): string {
    const millis = new Date(Math.floor(this.micros / 1000)).toISOString().slice(0, -1);
    return `${millis}${String(this.micros % 1000).padStart(3, '0')}Z`;
  }
}

function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let cut = text.slice(0, max);
  while (Buffer.byteLength(cut) > max - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}
