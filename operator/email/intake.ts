import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { decodeItem, encodeItem, encodeUpdate } from '../../core/codec.js';
import { FteError } from '../../core/errors.js';
import { FOLDERS, itemPaths } from '../../core/layout.js';
import { scanText } from '../../core/secret-guard.js';
import type { Precondition, VaultChange, VaultPort } from '../../core/vault/change.js';
import { VaultFiles } from '../../core/vault/safe-fs.js';
import {
  type ErrorFacts,
  emailTaskId,
  formatAddress,
  type MailSource,
  renderEmailError,
  renderEmailItem,
  renderFollowup,
  taskIdForMessageId,
} from './item.js';
import type { ParsedEmail } from './parse.js';
import { MessageIndex, taskFilesOf, taskState } from './vault-lookup.js';

/**
 * Turns one message into exactly one visible change in the vault, committed as one small commit
 * (ADR 0002): a new item in `Needs_Action/email/`, a follow-up section on the open task of its thread, or
 * an error file in `Needs_Action/_errors/` with the reason. A message the vault already holds (by task id
 * or by Message-ID) changes nothing, so replaying a message after a crash or a lost state file is safe.
 */

export type IntakeInput =
  | { kind: 'email'; email: ParsedEmail; source: MailSource }
  /** The message could not be read or parsed; `facts` holds whatever is known (from the envelope). */
  | {
      kind: 'unreadable';
      reason: string;
      source: MailSource;
      facts?: Omit<ErrorFacts, 'reason'>;
      raw?: Buffer;
    };

export type IntakeOutcome =
  | { kind: 'created'; id: string; path: string; threadTask?: string }
  | { kind: 'followup'; id: string; path: string }
  | { kind: 'error'; id: string; path: string; reason: string }
  | { kind: 'duplicate'; id: string; where: string };

type Plan =
  | { kind: 'create'; id: string; path: string; text: string; threadTask?: string; messageId?: string }
  | { kind: 'followup'; id: string; path: string; section: string; messageId: string; summary: string }
  | { kind: 'error'; id: string; path: string; text: string; reason: string; orig?: Buffer }
  | { kind: 'duplicate'; id: string; where: string };

/** Raw bytes of an unreadable message are kept beside its error file up to this size. */
const MAX_ORIGINAL_BYTES = 1024 * 1024;
const DOMAIN = 'email';

export type EmailIntakeOptions = {
  /** Where the change for each message goes: one commit, or refused when the vault moved meanwhile. */
  vault: VaultPort;
  clock?: () => Date;
  log?: Logger;
};

export class EmailIntake {
  private readonly root: string;
  private readonly agent: string;
  private readonly clock: () => Date;
  private readonly index: MessageIndex;
  /** Every read of the vault: never through a link or into a linked folder. */
  private readonly vault: VaultFiles;

  constructor(private readonly options: EmailIntakeOptions) {
    this.root = options.vault.root;
    this.vault = new VaultFiles(this.root);
    this.agent = options.vault.agent;
    this.clock = options.clock ?? (() => new Date());
    this.index = new MessageIndex(this.root);
  }

  /** Re-reads the Message-IDs the vault knows (cheap: only changed files are read). Call before a batch. */
  refresh(): Promise<void> {
    return this.index.refresh();
  }

  /** Whether the vault already holds this message (as its own task or attached to one). */
  async known(messageId: string | undefined, source: MailSource): Promise<string | undefined> {
    const id = emailTaskId(messageId, source);
    const files = await taskFilesOf(this.root, id);
    if (files[0]) return files[0];
    const task = messageId ? this.index.taskFor(messageId) : undefined;
    return task ? `task ${task}` : undefined;
  }

  async accept(input: IntakeInput): Promise<IntakeOutcome> {
    for (let attempt = 0; ; attempt++) {
      const plan = await this.plan(input);
      if (plan.kind === 'duplicate') return plan;
      // Decided on what was read; the reconciler may move the task meanwhile. The change states what the
      // plan relied on, and a refused change is planned again on a fresh read.
      const result = await this.options.vault.apply(await this.changeFor(plan));
      if (result.kind === 'conflict') {
        if (attempt < 5) continue;
        throw new FteError(`the vault kept changing under message ${plan.id}; will retry`, {
          retryable: true,
        });
      }
      if (result.kind === 'secret') {
        // Cannot happen for what plan() renders (it checks first); nothing was written.
        throw new FteError(`secret guard refused ${result.refused.map((f) => f.path).join(', ')}`);
      }
      if ('messageId' in plan && plan.messageId) this.index.remember(plan.messageId, plan.id);
      this.options.log?.info(
        { task: plan.id, outcome: plan.kind, uid: input.source.uid },
        `email ${plan.kind} ${plan.path}`,
      );
      if (plan.kind === 'create')
        return { kind: 'created', id: plan.id, path: plan.path, threadTask: plan.threadTask };
      if (plan.kind === 'followup') return { kind: 'followup', id: plan.id, path: plan.path };
      return { kind: 'error', id: plan.id, path: plan.path, reason: plan.reason };
    }
  }

  private commitMessage(plan: Plan): string {
    const action = plan.kind === 'create' ? 'intake' : plan.kind;
    return `${this.agent}: ${action} ${plan.id}`;
  }

  private async plan(input: IntakeInput): Promise<Plan> {
    const now = this.clock();
    if (input.kind === 'unreadable')
      return this.errorPlan(input.reason, input.source, input.facts ?? {}, input.raw);
    const { email, source } = input;
    const id = emailTaskId(email.messageId, source);
    const where = await this.known(email.messageId, source);
    if (where) return { kind: 'duplicate', id, where };

    if (!email.from) {
      return this.errorPlan(
        'no sender: the message has no usable From address, so there is no one to reply to',
        source,
        {
          messageId: email.messageId,
          subject: email.subject,
          date: email.date,
          text: email.text || undefined,
        },
      );
    }
    const thread = await this.findThread(email);
    if (thread?.state.kind === 'open' && email.messageId && (await this.readable(thread.state.itemPath))) {
      let section = renderFollowup(email, source, now);
      const secret = (await scanText(section))?.description;
      if (secret) {
        section = renderFollowup(
          {
            ...email,
            text: `(not copied: the message contains ${secret}; read it in your mail client)`,
            truncatedChars: 0,
          },
          source,
          now,
        );
      }
      const from = email.from ? formatAddress(email.from) : 'unknown sender';
      return {
        kind: 'followup',
        id: thread.id,
        path: thread.state.itemPath,
        section,
        messageId: email.messageId,
        summary: `follow-up from ${from} attached to ${thread.id}: ${email.subject ?? ''}`.slice(0, 300),
      };
    }
    const threadTask = thread && thread.id !== id ? thread.id : undefined;
    const rendered = renderEmailItem(email, source, { now, threadTask });
    const secret = (await scanText(rendered.text))?.description;
    if (secret) {
      return this.errorPlan(
        `the message contains ${secret}, so it is not copied into the vault (secrets never sync); read it in your mail client`,
        source,
        { messageId: email.messageId, from: email.from?.address, subject: email.subject, date: email.date },
      );
    }
    return {
      kind: 'create',
      id,
      path: itemPaths.needsAction(DOMAIN, id),
      text: rendered.text,
      threadTask,
      messageId: email.messageId,
    };
  }

  private async errorPlan(
    reason: string,
    source: MailSource,
    facts: Omit<ErrorFacts, 'reason'>,
    raw?: Buffer,
  ): Promise<Plan> {
    const id = emailTaskId(facts.messageId, source);
    const where = await this.known(facts.messageId, source);
    if (where) return { kind: 'duplicate', id, where };
    // Every fact comes from the message: drop any that the secret guard would refuse.
    const safe: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(facts)) {
      if (typeof value !== 'string' || !(await scanText(value))) safe[key] = value;
    }
    // Scanned as raw mail (`.orig`), as the commit guard will: DKIM and ARC headers are long base64.
    const orig =
      raw &&
      raw.length <= MAX_ORIGINAL_BYTES &&
      !(await scanText(raw.toString('utf8'), { path: 'message.orig' }))
        ? raw
        : undefined;
    const rendered = renderEmailError(
      { ...(safe as Omit<ErrorFacts, 'reason'>), reason },
      source,
      this.clock(),
      orig !== undefined,
    );
    return { kind: 'error', id, path: itemPaths.error(id), text: rendered.text, reason, orig };
  }

  /** Whether an item can take a follow-up section (the owner may have left its frontmatter broken). */
  private async readable(path: string): Promise<boolean> {
    try {
      const read = await this.vault.readText(path);
      if (read.kind !== 'ok') return false;
      decodeItem(read.text);
      return true;
    } catch {
      return false;
    }
  }

  /** The task this message answers: the first of In-Reply-To, then References newest first, that the vault knows. */
  private async findThread(email: ParsedEmail) {
    const refs = [email.inReplyTo, ...[...email.references].reverse()].filter((r): r is string => Boolean(r));
    for (const ref of new Set(refs)) {
      for (const id of [taskIdForMessageId(ref), this.index.taskFor(ref)]) {
        if (!id) continue;
        const state = await taskState(this.root, id, this.agent);
        if (state.kind !== 'absent') return { id, state };
      }
    }
    return undefined;
  }

  /** Every place this task's files could be: a new item or error file is only written where none exists. */
  private absentElsewhere(id: string): Precondition[] {
    return [
      itemPaths.needsAction(DOMAIN, id),
      itemPaths.inProgress(this.agent, id),
      itemPaths.pendingApproval(DOMAIN, id),
      itemPaths.approved(id),
      itemPaths.rejected(id),
      itemPaths.done(id),
      itemPaths.error(id),
    ].map((path) => ({ kind: 'absent' as const, path }));
  }

  private async changeFor(plan: Exclude<Plan, { kind: 'duplicate' }>): Promise<VaultChange> {
    const message = this.commitMessage(plan);
    // A new item or a follow-up is its own record (the file and its commit); the audit log, one file per
    // day that every commit would re-hash, is kept for what went wrong.
    if (plan.kind === 'create') {
      return {
        message,
        preconditions: this.absentElsewhere(plan.id),
        operations: [{ op: 'write', path: plan.path, content: plan.text, mode: 'create' }],
      };
    }
    if (plan.kind === 'error') {
      return {
        message,
        preconditions: this.absentElsewhere(plan.id),
        operations: [
          { op: 'write', path: plan.path, content: plan.text, mode: 'create' },
          ...(plan.orig
            ? [
                {
                  op: 'write' as const,
                  path: `${FOLDERS.errors}/${plan.id}.orig`,
                  content: plan.orig.toString('base64'),
                  encoding: 'base64' as const,
                  mode: 'replace' as const,
                },
              ]
            : []),
        ],
        audit: [
          {
            action_type: 'email_intake',
            actor: this.agent,
            target: plan.path,
            parameters: {},
            result: `error: ${plan.reason.slice(0, 300)}`,
            task: plan.id,
          },
        ],
      };
    }
    // A follow-up: appended to the open task's item, plus a signal so the owner sees it on the dashboard.
    const read = await this.vault.readBytes(plan.path);
    const text = read.kind === 'ok' ? new TextDecoder('utf-8', { fatal: false }).decode(read.data) : '';
    if (read.kind !== 'ok') {
      throw new FteError(
        `${plan.path} cannot take a follow-up: ${read.kind === 'missing' ? 'gone' : read.reason}`,
        { retryable: true },
      );
    }
    const now = this.clock();
    const item = decodeItem(text);
    const previous = Array.isArray(item.data.followup_message_ids) ? item.data.followup_message_ids : [];
    item.data.followup_message_ids = [...previous, plan.messageId];
    item.data.last_followup = now.toISOString();
    const created = now.toISOString();
    const update = `${FOLDERS.updates}/${created.replace(/[:.]/g, '-')}_${this.agent}_info_${plan.id}.md`;
    return {
      message,
      preconditions: [
        { kind: 'sha256', path: plan.path, sha256: createHash('sha256').update(read.data).digest('hex') },
      ],
      operations: [
        {
          op: 'write',
          path: plan.path,
          mode: 'replace',
          content: encodeItem({ data: item.data, body: `${item.body.replace(/\n*$/, '\n')}${plan.section}` }),
        },
        {
          op: 'write',
          path: update,
          mode: 'ensure',
          content: encodeUpdate({
            data: {
              type: 'update',
              kind: 'info',
              agent: this.agent,
              created,
              task: plan.id,
              summary: plan.summary,
            },
            body: `${plan.summary}\n\nIt is appended to ${plan.path}; no second draft is made for it.\n`,
          }),
        },
      ],
    };
  }
}
