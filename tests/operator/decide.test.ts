import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseMarkdown } from '../../core/frontmatter.js';
import { locate } from '../../core/layout.js';
import { ApprovalFrontmatter, canonicalize, ItemFrontmatter } from '../../core/schemas.js';
import { decide, SETTLE_MS, type VaultState } from '../../operator/decide.js';
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
