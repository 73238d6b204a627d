import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseMarkdown } from '../../core/frontmatter.js';
import { locate } from '../../core/layout.js';
import { ApprovalFrontmatter, canonicalize, ItemFrontmatter } from '../../core/schemas.js';
import { decide, phaseOf, SETTLE_MS, type VaultState } from '../../operator/decide.js';
import { TemplateDrafter } from '../../operator/drafters/template.js';
import { EmailHandler } from '../../operator/handlers/email.js';
import type { Task } from '../../operator/task.js';
import type { ReadResult, TaskFile } from '../../operator/vault-files.js';

const NOW = new Date('2026-01-07T12:00:00Z');
const handlers = new Map([['email', new EmailHandler(new TemplateDrafter())]]);
const ctx = { agent: 'cloud', now: NOW, handlers };

function file(path: string): TaskFile {
  return { ...locate(path)!, path, size: 100, mtimeMs: 0, ctimeMs: 0, ino: 1 };
}

function read<T>(
  path: string,
  text: string,
  schema: typeof ItemFrontmatter | typeof ApprovalFrontmatter,
): ReadResult<T> {
  const sha256 = createHash('sha256').update(text).digest('hex');
  try {
    const doc = parseMarkdown(text);
    const data = canonicalize(doc.data);
    const parsed = schema.safeParse(data);
    if (!parsed.success)
      return {
        file: file(path),
        sha256,
        ok: false,
        data,
        problem: { kind: 'schema', message: parsed.error.message },
      };
    return { file: file(path), sha256, ok: true, text, decoded: { data: parsed.data as T, body: doc.body } };
  } catch (error) {
    return {
      file: file(path),
      sha256,
      ok: false,
      problem: { kind: 'frontmatter', message: (error as Error).message },
    };
  }
}

const EMAIL = '---\ntype: email\nfrom: Client <client@example.com>\nsubject: Invoice\n---\n\nHello\n';
const item = (path: string, text = EMAIL) => read<ItemFrontmatter>(path, text, ItemFrontmatter);
const approval = (path: string, fields: Record<string, string> = {}) => {
  const data = {
    type: 'approval_request',
    task: 'E1',
    action: 'send_email',
    created: '2026-01-07T10:00:00Z',
    expires: '2026-01-09T10:00:00Z',
    status: 'pending',
    content_sha256: 'a'.repeat(64),
    source: 'In_Progress/cloud/E1.md',
    ...fields,
  };
  const yaml = Object.entries(data)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join('\n');
  return read<ApprovalFrontmatter>(path, `---\n${yaml}\n---\n\nDraft\n`, ApprovalFrontmatter);
};

function state(parts: {
  item?: ReadResult<ItemFrontmatter>;
  approval?: ReadResult<ApprovalFrontmatter>;
  signalWritten?: boolean;
}): VaultState {
  return { files: [parts.item?.file, parts.approval?.file].filter((f): f is TaskFile => !!f), ...parts };
}

function task(id = 'E1', status: Task['status'] = undefined, generation = 1): Task {
  return {
    apiVersion: 'fte.dev/v1alpha1',
    kind: 'Task',
    metadata: {
      name: 'e1-x',
      namespace: 'default',
      uid: 'u',
      resourceVersion: '1',
      generation,
      creationTimestamp: NOW.toISOString(),
    },
    spec: { id, domain: 'email', source: `Needs_Action/email/${id}.md`, files: [] },
    status,
  };
}

describe('decide', () => {
  it('a link or special file in a task position: Failed with the reason, no step (never read or moved)', () => {
    const path = 'Needs_Action/email/E1.md';
    const unsafe: ReadResult<ItemFrontmatter> = {
      file: { ...file(path), unsafe: 'unsafe path: symbolic link, never followed' },
      ok: false,
      problem: { kind: 'unsafe', message: 'item file: unsafe path: symbolic link, never followed' },
    };
    const decision = decide(task(), state({ item: unsafe }), ctx);
    expect(decision.step).toBeUndefined();
    expect(decision).toMatchObject({
      phase: 'Failed',
      error: expect.stringMatching(/unsafe path: symbolic link/),
      waiting: { reason: 'UnsafePath' },
    });
  });

  it('claims a valid email item in Needs_Action/email', () => {
    const d = decide(task(), state({ item: item('Needs_Action/email/E1.md') }), ctx);
    expect(d).toMatchObject({ phase: 'NeedsAction', step: { kind: 'claim' } });
  });

  it('leaves other domains alone and says so', () => {
    const d = decide(task(), state({ item: item('Needs_Action/social/E1.md') }), ctx);
    expect(d.step).toBeUndefined();
    expect(d.waiting?.reason).toBe('NoHandler');
    expect(d.phase).toBe('NeedsAction');
  });

  it('quarantines what cannot be handled, keeping the bytes when it does not even parse', () => {
    const bad = decide(
      task(),
      state({ item: item('Needs_Action/email/E1.md', '---\nfrom: [unclosed\n---\n') }),
      ctx,
    );
    expect(bad.step).toMatchObject({ kind: 'quarantine', keepBytes: true });
    const missing = decide(
      task(),
      state({ item: item('Needs_Action/email/E1.md', '---\ntype: email\nsubject: hi\n---\n') }),
      ctx,
    );
    expect(missing.step).toMatchObject({
      kind: 'quarantine',
      keepBytes: false,
      reason: expect.stringMatching(/^from: missing/),
    });
    const unsafe = decide(task('bad id!'), state({ item: item('Needs_Action/email/bad id!.md') }), ctx);
    expect(unsafe.step).toMatchObject({ kind: 'quarantine', keepBytes: true });
  });

  it('gives a file that does not parse yet a moment to be written whole, then quarantines it', () => {
    const half = item('Needs_Action/email/E1.md', '');
    half.file.mtimeMs = NOW.getTime() - 500;
    const settling = decide(task(), state({ item: half }), ctx);
    expect(settling.step).toBeUndefined();
    expect(settling.waiting?.reason).toBe('Settling');
    expect(settling.requeueAfterMs).toBe(SETTLE_MS - 500 + 100);
    half.file.mtimeMs = NOW.getTime() - SETTLE_MS;
    expect(decide(task(), state({ item: half }), ctx).step).toMatchObject({ kind: 'quarantine' });
    // A time stamp in the future is no reason to wait forever.
    half.file.mtimeMs = NOW.getTime() + 3_600_000;
    expect(decide(task(), state({ item: half }), ctx).step).toMatchObject({ kind: 'quarantine' });
  });

  it('triages, then drafts, an item it owns; a changed item is triaged again', () => {
    const owned = state({ item: item('In_Progress/cloud/E1.md') });
    expect(decide(task(), owned, ctx).step).toEqual({ kind: 'triage', recorded: undefined });
    const triage = {
      contentSha256: owned.item!.sha256!,
      priority: 'high' as const,
      needsReply: true,
      reason: 'r',
      by: 'template',
    };
    expect(decide(task('E1', { triage }), owned, ctx).step).toEqual({ kind: 'draft', triage });
    const stale = { ...triage, contentSha256: 'b'.repeat(64) };
    expect(decide(task('E1', { triage: stale }), owned, ctx).step).toEqual({
      kind: 'triage',
      recorded: undefined,
    });
    const noReply = { ...triage, needsReply: false };
    expect(decide(task('E1', { triage: noReply }), owned, ctx).step).toEqual({
      kind: 'triage',
      recorded: noReply,
    });
  });

  it('does not touch items another agent owns', () => {
    const d = decide(task(), state({ item: item('In_Progress/local/E1.md') }), ctx);
    expect(d).toMatchObject({ phase: 'InProgress', owner: 'local', waiting: { reason: 'NotOurs' } });
  });

  it('waits for the owner until expiry, then expires; a missing signal is written first', () => {
    const s = state({
      item: item('In_Progress/cloud/E1.md'),
      approval: approval('Pending_Approval/email/E1.md'),
      signalWritten: true,
    });
    const waiting = decide(task(), s, ctx);
    expect(waiting).toMatchObject({
      phase: 'PendingApproval',
      approvalPath: 'Pending_Approval/email/E1.md',
      expires: '2026-01-09T10:00:00Z',
    });
    expect(waiting.requeueAfterMs).toBe(Date.parse('2026-01-09T10:00:00Z') - NOW.getTime());
    expect(decide(task(), { ...s, signalWritten: false }, ctx).step).toEqual({ kind: 'signal' });
    const later = { ...ctx, now: new Date('2026-01-09T10:00:00Z') };
    expect(decide(task(), s, later).step).toEqual({ kind: 'expire' });
  });

  it("shows the owner's decision as the phase and does nothing", () => {
    for (const [path, phase] of [
      ['Approved/E1.md', 'Approved'],
      ['Rejected/E1.md', 'Rejected'],
      ['Done/E1.md', 'Done'],
    ] as const) {
      const d = decide(
        task(),
        state({ item: item('In_Progress/cloud/E1.md'), approval: approval(path, { status: 'approved' }) }),
        ctx,
      );
      expect(d).toMatchObject({ phase, waiting: { reason: 'OwnerDecided' } });
      expect(d.step).toBeUndefined();
    }
  });

  it('shows quarantined and failed items as Failed with their reason', () => {
    const quarantined = item(
      'Needs_Action/_errors/E1.md',
      '---\ntype: email\nstatus: error\nerror: bad yaml\n---\n',
    );
    expect(decide(task(), state({ item: quarantined }), ctx)).toMatchObject({
      phase: 'Failed',
      error: 'bad yaml',
    });
    const failed = item(
      'In_Progress/cloud/E1.md',
      `${EMAIL.replace('---\n\n', 'status: error\nerror: "Claude API error 500"\n---\n\n')}`,
    );
    expect(decide(task(), state({ item: failed }), ctx)).toMatchObject({
      phase: 'Failed',
      error: 'Claude API error 500',
    });
  });

  it('stays put after giving up, until the task changes (a new generation)', () => {
    const stalled = {
      conditions: [
        {
          type: 'Stalled',
          status: 'True' as const,
          reason: 'RepeatedErrors',
          message: 'git broke',
          lastTransitionTime: NOW.toISOString(),
          observedGeneration: 1,
        },
      ],
    };
    const s = state({ item: item('In_Progress/cloud/E1.md') });
    expect(decide(task('E1', stalled, 1), s, ctx)).toMatchObject({
      phase: 'Failed',
      waiting: { reason: 'Stalled' },
    });
    expect(decide(task('E1', stalled, 2), s, ctx).step?.kind).toBe('triage');
  });

  it('is pure: the same inputs give the same decision', () => {
    const s = state({ item: item('Needs_Action/email/E1.md') });
    expect(decide(task(), s, ctx)).toEqual(decide(task(), s, ctx));
  });
});

describe('why a task waits: each reason and its message', () => {
  it('a task whose files are all gone keeps its last phase', () => {
    const gone = decide(task('E1', { phase: 'Done' } as Task['status']), { files: [] }, ctx);
    expect(gone).toEqual({
      phase: 'Done',
      waiting: { reason: 'Gone', message: 'no file of this task is left in the vault' },
    });
    expect(decide(task(), { files: [] }, ctx).phase).toBe('NeedsAction');
  });

  it('an item in Done/ or Rejected/ is finished', () => {
    for (const path of ['Done/E1.item.md', 'Rejected/E1.item.md']) {
      expect(decide(task(), state({ item: item(path) }), ctx).waiting).toEqual({
        reason: 'Finished',
        message: `finished in ${path}`,
      });
    }
  });

  it('an approval another agent asked for is not ours; an item another agent claimed names it', () => {
    const other = state({
      item: item('In_Progress/local/E1.md'),
      approval: approval('Pending_Approval/email/E1.md', { source: 'In_Progress/local/E1.md' }),
    });
    expect(decide(task(), other, ctx).waiting).toEqual({
      reason: 'NotOurs',
      message: 'another agent asked for this approval',
    });
    // Ours by the approval's source even when the item is gone from In_Progress/.
    const ours = state({ approval: approval('Pending_Approval/email/E1.md') });
    expect(decide(task(), ours, ctx).waiting?.reason).toBe('AwaitingApproval');
    expect(decide(task(), state({ item: item('In_Progress/local/E1.md') }), ctx).waiting).toEqual({
      reason: 'NotOurs',
      message: 'claimed by local',
    });
  });

  it('a domain not enabled, or without a handler, is left alone', () => {
    const s = state({ item: item('Needs_Action/email/E1.md') });
    expect(decide(task(), s, { ...ctx, enabledDomains: new Set(['accounting']) }).waiting).toEqual({
      reason: 'DomainDisabled',
      message: 'the email domain is not enabled in the Vault resource; left alone',
    });
    expect(decide(task(), s, { ...ctx, enabledDomains: new Set(['email']) }).step).toEqual({ kind: 'claim' });
    expect(decide(task(), s, { ...ctx, handlers: new Map() }).waiting).toEqual({
      reason: 'NoHandler',
      message: 'no handler for the email domain; left for someone else',
    });
  });

  it('an item marked failed or needing no reply waits, with the reason it carries', () => {
    const failed = item(
      'In_Progress/cloud/E1.md',
      EMAIL.replace('subject: Invoice', 'subject: Invoice\nstatus: error\nerror: boom'),
    );
    expect(decide(task(), state({ item: failed }), ctx)).toMatchObject({
      phase: 'Failed',
      error: 'boom',
      waiting: { reason: 'Failed', message: 'marked failed in the item; edit it (status: pending) to retry' },
    });
    const noReply = item(
      'In_Progress/cloud/E1.md',
      EMAIL.replace('subject: Invoice', 'subject: Invoice\ntriage: no_reply\ntriage_reason: a newsletter'),
    );
    expect(decide(task(), state({ item: noReply }), ctx).waiting).toEqual({
      reason: 'NoReplyNeeded',
      message: 'a newsletter',
    });
  });
});

describe('what the owner reads in the status of each waiting task', () => {
  it('a task given up on names the last error until a new generation; a Stalled condition that is not True does not stop it', () => {
    const condition = (status: 'True' | 'False') => ({
      conditions: [
        {
          type: 'Stalled',
          status,
          reason: 'RepeatedErrors',
          message: 'git broke',
          lastTransitionTime: NOW.toISOString(),
          observedGeneration: 1,
        },
      ],
    });
    const s = state({ item: item('In_Progress/cloud/E1.md') });
    const stalled = decide(task('E1', condition('True'), 1), s, ctx);
    expect(stalled).toMatchObject({
      phase: 'Failed',
      owner: 'cloud',
      error: 'git broke',
      waiting: {
        reason: 'Stalled',
        message: 'gave up after repeated errors; waiting for the task to change',
      },
    });
    expect(stalled.step).toBeUndefined();
    const cleared = decide(task('E1', condition('False'), 1), s, ctx);
    expect(cleared).toMatchObject({ phase: 'InProgress', step: { kind: 'triage' } });
    expect(cleared.error).toBeUndefined();
  });

  it("the owner's decision names its file; an expired request says so; an unreadable decision is still the owner's", () => {
    const mine = item('In_Progress/cloud/E1.md');
    const approved = decide(task(), state({ item: mine, approval: approval('Approved/E1.md') }), ctx);
    expect(approved.waiting).toEqual({
      reason: 'OwnerDecided',
      message: "the owner's decision is in Approved/E1.md",
    });
    expect(approved.expires).toBe('2026-01-09T10:00:00Z');
    const expired = decide(
      task(),
      state({ item: mine, approval: approval('Rejected/E1.md', { status: 'expired' }) }),
      ctx,
    );
    expect(expired.waiting).toEqual({
      reason: 'Expired',
      message: 'the approval request expired unanswered',
    });
    const unreadable = read<ApprovalFrontmatter>(
      'Rejected/E1.md',
      '---\nstatus: [expired\n---\n',
      ApprovalFrontmatter,
    );
    const d = decide(task(), state({ item: mine, approval: unreadable }), ctx);
    expect(d).toMatchObject({
      phase: 'Rejected',
      approvalPath: 'Rejected/E1.md',
      waiting: { reason: 'OwnerDecided', message: "the owner's decision is in Rejected/E1.md" },
    });
    expect(d.expires).toBeUndefined();
    expect(d.step).toBeUndefined();
  });

  it('a quarantined item names where it is kept and why: its recorded error, its parse error, or the folder', () => {
    const kept = { reason: 'Quarantined', message: 'kept in Needs_Action/_errors/E1.md with the reason' };
    const path = 'Needs_Action/_errors/E1.md';
    const withError = item(path, '---\ntype: email\nstatus: error\nerror: bad yaml\n---\n');
    expect(decide(task(), state({ item: withError }), ctx)).toMatchObject({
      error: 'bad yaml',
      waiting: kept,
    });
    // Fails the schema (no type) but its fields are read: the error it carries is shown.
    const schema = item(path, '---\nstatus: error\nerror: no type\n---\n');
    expect(schema.ok).toBe(false);
    expect(decide(task(), state({ item: schema }), ctx)).toMatchObject({ error: 'no type', waiting: kept });
    // Does not parse at all: the parse error is shown.
    const broken = item(path, '---\nerror: [unclosed\n---\n');
    expect(broken.ok).toBe(false);
    const brokenMessage = broken.ok ? '' : broken.problem.message;
    expect(brokenMessage).not.toBe('');
    expect(decide(task(), state({ item: broken }), ctx)).toMatchObject({
      error: brokenMessage,
      waiting: kept,
    });
    // Parses, but carries no error text.
    const bare = item(path, '---\ntype: email\nstatus: error\n---\n');
    expect(decide(task(), state({ item: bare }), ctx)).toMatchObject({
      phase: 'Failed',
      error: 'moved to Needs_Action/_errors/',
      waiting: kept,
    });
  });

  it('a pending approval of ours that cannot be read waits for the owner, with the parse error', () => {
    const unreadable = read<ApprovalFrontmatter>(
      'Pending_Approval/email/E1.md',
      '---\nexpires: [2026\n---\n',
      ApprovalFrontmatter,
    );
    const message = unreadable.ok ? '' : unreadable.problem.message;
    expect(message).not.toBe('');
    const d = decide(task(), state({ item: item('In_Progress/cloud/E1.md'), approval: unreadable }), ctx);
    expect(d).toEqual({
      phase: 'PendingApproval',
      owner: 'cloud',
      approvalPath: 'Pending_Approval/email/E1.md',
      error: message,
      waiting: {
        reason: 'ApprovalUnreadable',
        message: 'the approval request cannot be read; the owner can fix or reject it',
      },
    });
    // Not ours (another agent's item, a source naming it): not even looked at.
    const theirs = decide(
      task(),
      state({ item: item('In_Progress/local/E1.md'), approval: unreadable }),
      ctx,
    );
    expect(theirs.waiting?.reason).toBe('NotOurs');
    expect(theirs.error).toBeUndefined();
  });

  it('a pending approval names its file while it waits; one that expires this instant is expired', () => {
    const s = state({
      item: item('In_Progress/cloud/E1.md'),
      approval: approval('Pending_Approval/email/E1.md'),
      signalWritten: true,
    });
    expect(decide(task(), s, ctx).waiting).toEqual({
      reason: 'AwaitingApproval',
      message: 'waiting for the owner in Pending_Approval/email/E1.md',
    });
    // The signal not looked at (undefined) is not a missing signal.
    expect(decide(task(), { ...s, signalWritten: undefined }, ctx).waiting?.reason).toBe('AwaitingApproval');
    const oneMsBefore = { ...ctx, now: new Date(Date.parse('2026-01-09T10:00:00Z') - 1) };
    expect(decide(task(), s, oneMsBefore)).toMatchObject({
      requeueAfterMs: 1,
      waiting: { reason: 'AwaitingApproval' },
    });
    // An approval whose source is not a valid In_Progress path of a bad id is not ours.
    const badId = decide(
      task('bad id!'),
      state({
        approval: approval('Pending_Approval/email/E1.md', { source: 'In_Progress/cloud/bad id!.md' }),
      }),
      ctx,
    );
    expect(badId.waiting).toEqual({ reason: 'NotOurs', message: 'another agent asked for this approval' });
  });

  it('files without an item or approval to act on: nothing to work on', () => {
    const stray = file('Needs_Action/email/E1.md');
    expect(decide(task(), { files: [stray] }, ctx)).toEqual({
      phase: 'NeedsAction',
      waiting: { reason: 'NoItem', message: 'nothing to work on' },
    });
  });

  it('a link in a task position is named as never read', () => {
    const path = 'In_Progress/cloud/E1.md';
    const unsafe: ReadResult<ItemFrontmatter> = {
      file: { ...file(path), unsafe: 'unsafe path: symbolic link, never followed' },
      ok: false,
      problem: { kind: 'unsafe', message: 'item file: unsafe path: symbolic link, never followed' },
    };
    expect(decide(task(), state({ item: unsafe }), ctx)).toEqual({
      phase: 'Failed',
      owner: 'cloud',
      approvalPath: undefined,
      error: 'item file: unsafe path: symbolic link, never followed',
      waiting: {
        reason: 'UnsafePath',
        message: 'In_Progress/cloud/E1.md is not a regular file; it is never read',
      },
    });
  });

  it('settling: a new file that does not parse is read again shortly; a claimed one or one failing the schema is quarantined at once', () => {
    const fresh = item('Needs_Action/email/E1.md', '---\nfrom: [unclosed\n---\n');
    fresh.file.mtimeMs = NOW.getTime();
    expect(decide(task(), state({ item: fresh }), ctx)).toEqual({
      phase: 'NeedsAction',
      owner: undefined,
      approvalPath: undefined,
      waiting: {
        reason: 'Settling',
        message: 'written moments ago and not readable yet; read again shortly',
      },
      requeueAfterMs: SETTLE_MS + 100,
    });
    fresh.file.mtimeMs = NOW.getTime() - SETTLE_MS + 1;
    expect(decide(task(), state({ item: fresh }), ctx).waiting?.reason).toBe('Settling');
    const claimed = item('In_Progress/cloud/E1.md', '---\nfrom: [unclosed\n---\n');
    claimed.file.mtimeMs = NOW.getTime();
    expect(decide(task(), state({ item: claimed }), ctx).step).toMatchObject({
      kind: 'quarantine',
      keepBytes: true,
    });
    const schema = item('Needs_Action/email/E1.md', '---\nsubject: no type\n---\n');
    schema.file.mtimeMs = NOW.getTime();
    expect(schema.ok).toBe(false);
    expect(decide(task(), state({ item: schema }), ctx).step).toMatchObject({
      kind: 'quarantine',
      keepBytes: false,
    });
  });

  it('a file name that is not a task id is quarantined with that reason', () => {
    const d = decide(task('bad id!'), state({ item: item('Needs_Action/email/bad id!.md') }), ctx);
    expect(d.step).toEqual({
      kind: 'quarantine',
      reason: 'the file name is not a valid task id',
      keepBytes: true,
    });
  });

  it('an item marked failed without a reason, or not needing a reply without one, says so', () => {
    const failed = item(
      'In_Progress/cloud/E1.md',
      EMAIL.replace('subject: Invoice', 'subject: Invoice\nstatus: error'),
    );
    expect(decide(task(), state({ item: failed }), ctx)).toMatchObject({
      phase: 'Failed',
      error: 'marked status: error',
    });
    const noReply = item(
      'In_Progress/cloud/E1.md',
      EMAIL.replace('subject: Invoice', 'subject: Invoice\ntriage: no_reply'),
    );
    expect(decide(task(), state({ item: noReply }), ctx).waiting).toEqual({
      reason: 'NoReplyNeeded',
      message: 'no reply needed',
    });
  });

  it('an item marked status: error is Failed only while it waits or is worked on; a finished one keeps its folder', () => {
    const text = EMAIL.replace('subject: Invoice', 'subject: Invoice\nstatus: error');
    const waiting = item('Needs_Action/email/E1.md', text);
    expect(decide(task(), state({ item: waiting }), ctx).phase).toBe('Failed');
    expect(decide(task(), state({ item: item('Done/E1.item.md', text) }), ctx)).toMatchObject({
      phase: 'Done',
      waiting: { reason: 'Finished' },
    });
  });

  it('the phase of a task without files is NeedsAction', () => {
    expect(phaseOf({ files: [] })).toBe('NeedsAction');
  });
});
