import type { ApproveRequest, DecisionResult, RejectRequest, ResolveRequest } from '../../core/ui-api.js';
import type { VaultRepo } from '../../core/vault-repo.js';
import { approveTask, type DecisionContext, rejectTask, resolveTask } from '../decisions.js';
import type { Ledger } from '../ledger.js';
import type { DecisionPort } from './server.js';

/**
 * The owner's decisions from the status page: the same functions as `fte approve`, `fte reject` and
 * `fte resolve` (signed here with the laptop's key, recorded in the ledger, audited `via: status_page`),
 * run under the clone's lock so they never interleave with a sync; the executor's next pass (woken by
 * the file change) commits and carries them out.
 */
export class PageDecisions implements DecisionPort {
  constructor(
    private readonly o: {
      repo: VaultRepo;
      ctx: DecisionContext;
      key: Buffer;
      ledger: Ledger;
      /** Starts a pass now. */
      wake: () => void;
    },
  ) {}

  async approve(id: string, request: ApproveRequest): Promise<DecisionResult> {
    const { approval, effect, path } = await this.o.repo.exclusive(() =>
      approveTask(this.o.ctx, this.o.key, id, 'status_page', {
        seenSha256: request.seen,
        body: request.body,
      }),
    );
    this.o.wake();
    const edited = approval.data.original_content_sha256 !== undefined;
    return {
      id,
      outcome: 'approved',
      effect,
      message: `approved ${id}${edited ? ' (with your edit)' : ''}: signed and moved to ${path}; the executor carries it out now`,
    };
  }

  async reject(id: string, request: RejectRequest): Promise<DecisionResult> {
    const { path } = await this.o.repo.exclusive(() =>
      rejectTask(this.o.ctx, id, request.reason, 'status_page'),
    );
    this.o.wake();
    return {
      id,
      outcome: 'rejected',
      message: `rejected ${id}: moved to ${path} with your reason; nothing is sent`,
    };
  }

  async resolve(id: string, request: ResolveRequest): Promise<DecisionResult> {
    await this.o.repo.exclusive(() =>
      resolveTask(this.o.ctx, this.o.ledger, id, request.outcome, 'status_page'),
    );
    this.o.wake();
    return {
      id,
      outcome: 'resolved',
      message:
        request.outcome === 'sent'
          ? `resolved ${id}: recorded as sent; it moves to Done/ without sending again`
          : `resolved ${id}: recorded as not sent; the executor sends it again (same Message-ID)`,
    };
  }
}
