import { lstat, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../core/audit.js';
import { approvalContentHash, approvalParameters, decodeApproval } from '../../core/codec.js';
import { EXIT } from '../../core/errors.js';
import { parseMarkdown, stringifyMarkdown } from '../../core/frontmatter.js';
import { InvalidTaskIdError } from '../../core/ids.js';
import { actionRegistry } from '../../executor/actions/index.js';
import { type ActionExecutor, InvalidActionError } from '../../executor/actions/types.js';
import {
  approveTask,
  type DecisionContext,
  DecisionError,
  idempotencyKey,
  refuseApproval,
  rejectTask,
  requestDigest,
  resolveTask,
} from '../../executor/decisions.js';
import { Ledger, type LedgerRecord } from '../../executor/ledger.js';
import { verifyApproval } from '../../executor/signature.js';
import { type ReadApproval, TaskFiles } from '../../executor/vault-files.js';
import { tempDir } from './helpers.js';

/**
 * The owner's decisions (`fte approve`, `fte reject`, `fte resolve`, the status page), in process on a plain
 * vault folder (decisions are file operations; the executor commits them) with a real ledger outside it.
 */

const NOW = new Date('2026-12-02T10:00:00.000Z');
const KEY = Buffer.from('ab'.repeat(32), 'hex');
const OTHER_KEY = Buffer.from('cd'.repeat(32), 'hex');
const FROM = 'Owner <owner@example.com>';

type Vault = { root: string; ledger: Ledger; ctx: DecisionContext };

async function vault(o: { ledger?: boolean; actions?: boolean } = {}): Promise<Vault> {
  const root = await tempDir('fte-decisions-');
  const state = await tempDir('fte-decisions-state-');
  const ledger = new Ledger(join(state, 'ledger.jsonl'));
  const ctx: DecisionContext = {
    root,
    agent: 'local',
    owner: 'alice',
    audit: new AuditLog(root, () => NOW),
    clock: () => NOW,
    ...(o.ledger === false ? {} : { ledger }),
    ...(o.actions === false ? {} : { actions: actionRegistry({ from: FROM }) }),
  };
  return { root, ledger, ctx };
}

type Draft = {
  to?: string;
  body?: string;
  expires?: Date;
  status?: string;
  task?: string;
  action?: string;
  extra?: Record<string, unknown>;
  /** Where the request lies (default `Pending_Approval/email/<id>.md`). */
  at?: string;
  /** Leave content_sha256 out (an invalid approval request). */
  noHash?: boolean;
};

const DEFAULT_BODY = 'Dear client,\n\nThe January invoice is attached.\n\nBest regards,\nthe team\n';

function draftDoc(id: string, o: Draft = {}) {
  const data: Record<string, unknown> = {
    type: 'approval_request',
    task: o.task ?? id,
    action: o.action ?? 'send_email',
    domain: 'email',
    to: o.to ?? 'client@example.com',
    subject: 'Re: Invoice for January',
    in_reply_to: `<${id.toLowerCase()}@mail.example.com>`,
    references: `<${id.toLowerCase()}@mail.example.com>`,
    ...o.extra,
    reason: 'reply to a known client',
    created: new Date(NOW.getTime() - 3_600_000).toISOString(),
    expires: (o.expires ?? new Date(NOW.getTime() + 48 * 3_600_000)).toISOString(),
    status: o.status ?? 'pending',
    source: `In_Progress/cloud/${id}.md`,
    drafter: 'template',
  };
  const body = o.body ?? DEFAULT_BODY;
  if (!o.noHash) {
    data.content_sha256 = approvalContentHash(String(data.action), approvalParameters(data), body);
  }
  return { data, body };
}

/** The cloud's draft: the item in `In_Progress/cloud/` and the request; returns the request's text. */
async function draft(root: string, id: string, o: Draft = {}): Promise<string> {
  const at = o.at ?? `Pending_Approval/email/${id}.md`;
  const text = stringifyMarkdown(draftDoc(id, o));
  await put(root, at, text);
  await put(
    root,
    `In_Progress/cloud/${id}.md`,
    stringifyMarkdown({
      data: {
        type: 'email',
        from: 'client@example.com',
        subject: 'Invoice for January',
        status: 'in_progress',
      },
      body: 'Hello, could you send the January invoice?\n',
    }),
  );
  return text;
}

/** A request the owner signed (as `fte approve` writes it), in `Approved/<id>.md`. */
async function signedIn(v: Vault, id: string, o: Draft = {}): Promise<Record<string, unknown>> {
  await draft(v.root, id, o);
  const { approval } = await approveTask({ ...v.ctx, ledger: undefined }, KEY, id, 'cli');
  return approval.data;
}

async function put(root: string, rel: string, text: string): Promise<void> {
  await mkdir(join(root, rel, '..'), { recursive: true });
  await writeFile(join(root, rel), text);
}

async function exists(root: string, rel: string): Promise<boolean> {
  return lstat(join(root, rel)).then(
    () => true,
    () => false,
  );
}

async function fm(root: string, rel: string): Promise<Record<string, unknown>> {
  return parseMarkdown(await readFile(join(root, rel), 'utf8')).data;
}

const audit = (v: Vault) => v.ctx.audit.read(NOW);

function record(key: string, kind: LedgerRecord['kind'], outcome?: LedgerRecord['outcome']): LedgerRecord {
  return {
    ts: NOW.toISOString(),
    key,
    task: key.split(':')[1]!,
    action: 'send_email',
    kind,
    ...(outcome ? { outcome } : {}),
  };
}

/** The key the executor's ledger uses for the unedited draft of `id`. */
function keyOf(id: string, o: Draft = {}): string {
  return idempotencyKey(
    draftDoc(id, o) as { data: { action: string; task: string; content_sha256: string } },
  );
}

/** Expects a DecisionError of this kind and message. */
async function refused(
  p: Promise<unknown>,
  kind: DecisionError['kind'],
  message: string,
): Promise<DecisionError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DecisionError);
  const d = error as DecisionError;
  expect(d.message).toBe(message);
  expect(d.kind).toBe(kind);
  expect(d.exitCode).toBe(kind === 'not_found' ? EXIT.missing : EXIT.failure);
  return d;
}

/** Task files whose requests a sync deletes right after they were found, before they are read. */
class SyncDeletesBeforeRead extends TaskFiles {
  override async readApproval(path: string): Promise<ReadApproval> {
    await rm(join(this.root, path));
    return super.readApproval(path);
  }
}

describe('requestDigest', () => {
  it('is the sha256 hex of the exact text (UTF-8)', () => {
    expect(requestDigest('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(requestDigest('é')).toBe('4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c');
  });
});

describe('approveTask: what the owner signs', () => {
  it('signs a pending request, moves it to Approved/ and shows every recipient and effect', async () => {
    const v = await vault();
    await draft(v.root, 'T1', { extra: { cc: 'boss@example.com', bcc: 'archive@example.com' } });
    const out = await approveTask(v.ctx, KEY, 'T1', 'cli');

    expect(out.path).toBe('Approved/T1.md');
    expect(out.touched).toEqual(['Approved/T1.md', 'Pending_Approval/email/T1.md', 'Logs']);
    expect(out.effect).toEqual([
      ['send email from', FROM],
      ['to', 'client@example.com'],
      ['cc', 'boss@example.com'],
      ['bcc (hidden from the others)', 'archive@example.com'],
      ['subject', 'Re: Invoice for January'],
      ['in reply to', '<t1@mail.example.com>'],
      ['references', '<t1@mail.example.com>'],
      ['message id', expect.stringMatching(/^<.+@.+>$/)],
      ['body', `${DEFAULT_BODY.length} characters (the draft, exactly as approved)`],
    ]);
    expect(out.notes).toEqual([]);
    expect(await exists(v.root, 'Pending_Approval/email/T1.md')).toBe(false);

    const text = await readFile(join(v.root, 'Approved/T1.md'), 'utf8');
    const onDisk = decodeApproval(text);
    expect(onDisk).toEqual(out.approval);
    expect(onDisk.data.status).toBe('approved');
    expect(onDisk.data.approved_by).toBe('alice');
    expect(onDisk.data.approved_via).toBe('cli');
    expect(onDisk.data.approved_at).toBe(NOW.toISOString());
    expect(onDisk.data.original_content_sha256).toBeUndefined();
    expect(verifyApproval(KEY, 'T1', onDisk, NOW)).toEqual({ ok: true });
    expect(verifyApproval(OTHER_KEY, 'T1', onDisk, NOW).ok).toBe(false);

    expect(await v.ledger.records()).toEqual([
      {
        ts: NOW.toISOString(),
        key: keyOf('T1', { extra: { cc: 'boss@example.com', bcc: 'archive@example.com' } }),
        task: 'T1',
        action: 'send_email',
        kind: 'approved',
        detail: 'approved by alice via cli',
      },
    ]);
    const records = await audit(v);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      timestamp: NOW.toISOString(),
      action_type: 'approval_granted',
      actor: 'local',
      target: 'Approved/T1.md',
      parameters: {
        action: 'send_email',
        via: 'cli',
        content_sha256: onDisk.data.content_sha256,
        edited_by_owner: false,
      },
      approval_status: 'approved',
      approved_by: 'alice',
      result: 'signed',
      task: 'T1',
    });
  });

  it('without an executor for the action, shows every parameter raw (non-strings as JSON)', async () => {
    const v = await vault({ actions: false });
    await draft(v.root, 'T2', { extra: { amount: 12.5, lines: [{ qty: 2 }] } });
    const out = await approveTask(v.ctx, KEY, 'T2', 'obsidian');
    expect(out.effect).toEqual([
      ['to', 'client@example.com'],
      ['subject', 'Re: Invoice for January'],
      ['in_reply_to', '<t2@mail.example.com>'],
      ['references', '<t2@mail.example.com>'],
      ['amount', '12.5'],
      ['lines', '[{"qty":2}]'],
    ]);
    expect(out.notes).toEqual([]);
    expect(out.approval.data.approved_via).toBe('obsidian');
  });

  it('an executor that cannot show the approval in full refuses it: nothing is signed', async () => {
    const v = await vault();
    await draft(v.root, 'T3', { extra: { webhook: 'https://evil.example.com/' } });
    const error = await approveTask(v.ctx, KEY, 'T3', 'cli').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DecisionError);
    expect((error as DecisionError).kind).toBe('refused');
    expect((error as DecisionError).message).toMatch(/^T3 cannot be approved: .*webhook/);
    expect(await exists(v.root, 'Approved/T3.md')).toBe(false);
    expect(await exists(v.root, 'Pending_Approval/email/T3.md')).toBe(true);
    expect(await v.ledger.records()).toEqual([]);
    expect(await audit(v)).toEqual([]);
  });

  it("passes the executor's notes on, and any error that is not about the approval propagates as is", async () => {
    const v = await vault();
    await draft(v.root, 'T4');
    const shown = (prepare: ActionExecutor['prepare']) =>
      new Map([
        ['send_email', { ...actionRegistry({ from: FROM }).get('send_email')!, prepare } as ActionExecutor],
      ]);
    const out = await approveTask(
      {
        ...v.ctx,
        actions: shown(() => ({
          payload: null,
          target: 'x',
          effect: [['pay', '5 EUR']],
          audit: {},
          notes: ['dropped a bad reply id'],
        })),
      },
      KEY,
      'T4',
      'cli',
    );
    expect(out.effect).toEqual([['pay', '5 EUR']]);
    expect(out.notes).toEqual(['dropped a bad reply id']);

    await draft(v.root, 'T5');
    const boom = new Error('disk on fire');
    await expect(
      approveTask(
        {
          ...v.ctx,
          actions: shown(() => {
            throw boom;
          }),
        },
        KEY,
        'T5',
        'cli',
      ),
    ).rejects.toBe(boom);
    await refused(
      approveTask(
        {
          ...v.ctx,
          actions: shown(() => {
            throw new InvalidActionError('no recipient');
          }),
        },
        KEY,
        'T5',
        'cli',
      ),
      'refused',
      'T5 cannot be approved: no recipient',
    );
    expect(await exists(v.root, 'Approved/T5.md')).toBe(false);
  });

  it('signs only what the owner saw: a request that changed since it was shown is refused, nothing signed', async () => {
    const v = await vault();
    const shownText = await draft(v.root, 'T6');
    await draft(v.root, 'T6', { to: 'attacker@example.com' });
    await refused(
      approveTask(v.ctx, KEY, 'T6', 'status_page', { seenSha256: requestDigest(shownText) }),
      'conflict',
      'T6 changed since it was shown (a sync brought a new version); look at it again before approving',
    );
    expect(await exists(v.root, 'Approved/T6.md')).toBe(false);
    expect(await exists(v.root, 'Pending_Approval/email/T6.md')).toBe(true);
    expect(await v.ledger.records()).toEqual([]);
    expect(await audit(v)).toEqual([]);

    const now = await readFile(join(v.root, 'Pending_Approval/email/T6.md'), 'utf8');
    const out = await approveTask(v.ctx, KEY, 'T6', 'status_page', { seenSha256: requestDigest(now) });
    expect(out.approval.data.to).toBe('attacker@example.com');
    expect(out.approval.data.approved_via).toBe('status_page');
  });

  it("signs the owner's edit of the draft, keeping the original hash", async () => {
    const v = await vault();
    const text = await draft(v.root, 'T7');
    const original = decodeApproval(text).data.content_sha256;
    const edited = 'Dear client,\n\nHere it is.\n';
    const out = await approveTask(v.ctx, KEY, 'T7', 'status_page', {
      seenSha256: requestDigest(text),
      body: edited,
    });
    const onDisk = decodeApproval(await readFile(join(v.root, 'Approved/T7.md'), 'utf8'));
    expect(onDisk.body).toBe(edited);
    expect(onDisk.data.original_content_sha256).toBe(original);
    expect(onDisk.data.content_sha256).not.toBe(original);
    expect(verifyApproval(KEY, 'T7', onDisk, NOW)).toEqual({ ok: true });
    expect(out.effect.at(-1)).toEqual([
      'body',
      `${edited.length} characters (the draft, exactly as approved)`,
    ]);
    expect((await audit(v))[0]?.parameters).toMatchObject({
      edited_by_owner: true,
      content_sha256: onDisk.data.content_sha256,
    });
    expect((await v.ledger.records())[0]?.key).toBe(idempotencyKey(onDisk));
  });

  it('refuses a task that has no request, with exit 4', async () => {
    const v = await vault();
    await refused(
      approveTask(v.ctx, KEY, 'T8', 'cli'),
      'not_found',
      'no approval request T8 in Pending_Approval/ or Approved/',
    );
  });

  it('refuses a request a sync removed between finding and reading it', async () => {
    const v = await vault();
    await draft(v.root, 'T30');
    await refused(
      approveTask({ ...v.ctx, files: new SyncDeletesBeforeRead(v.root) }, KEY, 'T30', 'cli'),
      'not_found',
      'Pending_Approval/email/T30.md disappeared',
    );
    expect(await exists(v.root, 'Approved/T30.md')).toBe(false);
    expect(await v.ledger.records()).toEqual([]);
    expect(await audit(v)).toEqual([]);
  });

  it('refuses a hostile id before it becomes a path, and writes nothing', async () => {
    const v = await vault();
    await draft(v.root, 'T9');
    for (const id of ['../Approved/T9', '../../etc/passwd', 'a/b', '']) {
      await expect(approveTask(v.ctx, KEY, id, 'cli')).rejects.toBeInstanceOf(InvalidTaskIdError);
      await expect(rejectTask(v.ctx, id, undefined, 'cli')).rejects.toBeInstanceOf(InvalidTaskIdError);
      await expect(resolveTask(v.ctx, v.ledger, id, 'sent')).rejects.toBeInstanceOf(InvalidTaskIdError);
    }
    expect(await exists(v.root, 'Approved')).toBe(false);
    expect(await exists(v.root, 'Rejected')).toBe(false);
    expect(await v.ledger.records()).toEqual([]);
  });

  it('refuses a request about another task', async () => {
    const v = await vault();
    await draft(v.root, 'T10', { task: 'T11' });
    await refused(
      approveTask(v.ctx, KEY, 'T10', 'cli'),
      'refused',
      'Pending_Approval/email/T10.md is about task "T11", not T10',
    );
    expect(await exists(v.root, 'Approved/T10.md')).toBe(false);
  });

  it('refuses an invalid or unreadable request with the reason, and never reads a linked or oversized one', async () => {
    const v = await vault();
    await draft(v.root, 'T12', { noHash: true });
    const invalid = await new TaskFiles(v.root).readApproval('Pending_Approval/email/T12.md');
    expect(invalid.kind).toBe('invalid');
    await refused(
      approveTask(v.ctx, KEY, 'T12', 'cli'),
      'refused',
      `Pending_Approval/email/T12.md is not a valid approval request: ${(invalid as { reason: string }).reason}`,
    );

    await put(v.root, 'Pending_Approval/email/T13.md', 'no frontmatter here\n');
    const unreadable = await new TaskFiles(v.root).readApproval('Pending_Approval/email/T13.md');
    expect(unreadable.kind).toBe('unreadable');
    await refused(
      approveTask(v.ctx, KEY, 'T13', 'cli'),
      'refused',
      `Pending_Approval/email/T13.md is not a valid approval request: ${(unreadable as { reason: string }).reason}`,
    );

    const big = await draft(v.root, 'T14');
    await put(v.root, 'Pending_Approval/email/T14.md', big + 'x'.repeat(5 * 1024 * 1024));
    const size = (await lstat(join(v.root, 'Pending_Approval/email/T14.md'))).size;
    await refused(
      approveTask(v.ctx, KEY, 'T14', 'cli'),
      'refused',
      `Pending_Approval/email/T14.md is ${size} bytes, more than ${5 * 1024 * 1024}; it is never read or approved`,
    );

    // A request that is a link is not a request at all.
    const outside = await tempDir('fte-decisions-outside-');
    await writeFile(join(outside, 'T15.md'), stringifyMarkdown(draftDoc('T15')));
    await mkdir(join(v.root, 'Approved'), { recursive: true });
    await symlink(join(outside, 'T15.md'), join(v.root, 'Pending_Approval/email/T15.md'));
    await refused(
      approveTask(v.ctx, KEY, 'T15', 'cli'),
      'not_found',
      'no approval request T15 in Pending_Approval/ or Approved/',
    );
    expect(await exists(v.root, 'Approved/T12.md')).toBe(false);
    expect(await exists(v.root, 'Approved/T14.md')).toBe(false);
    expect(await exists(v.root, 'Approved/T15.md')).toBe(false);
    expect(await audit(v)).toEqual([]);
  });

  it('refuses when something that is not a file holds Approved/<id>.md', async () => {
    const v = await vault();
    await draft(v.root, 'T16');
    await mkdir(join(v.root, 'Approved/T16.md'), { recursive: true });
    await refused(
      approveTask(v.ctx, KEY, 'T16', 'cli'),
      'conflict',
      'Approved/T16.md appeared meanwhile; run the command again',
    );
    expect(await exists(v.root, 'Pending_Approval/email/T16.md')).toBe(true);
    expect(await v.ledger.records()).toEqual([]);
    expect(await audit(v)).toEqual([]);
  });

  it('refuses an expired request (at its expiry instant too) and records the expiry in the ledger', async () => {
    const v = await vault();
    await draft(v.root, 'T17', { expires: NOW });
    await refused(
      approveTask(v.ctx, KEY, 'T17', 'cli'),
      'refused',
      `T17 expired at ${NOW.toISOString()}; ask for a new draft instead of approving this one`,
    );
    expect(await exists(v.root, 'Approved/T17.md')).toBe(false);
    expect(await exists(v.root, 'Pending_Approval/email/T17.md')).toBe(true);
    expect(await v.ledger.records()).toEqual([
      {
        ts: NOW.toISOString(),
        key: keyOf('T17', { expires: NOW }),
        task: 'T17',
        action: 'send_email',
        kind: 'expired',
        detail: `expired at ${NOW.toISOString()}`,
      },
    ]);
    expect(await audit(v)).toEqual([]);

    // Without a ledger (nothing to record in), still refused.
    const bare = await vault({ ledger: false });
    await draft(bare.root, 'T17', { expires: NOW });
    await refused(
      approveTask(bare.ctx, KEY, 'T17', 'cli'),
      'refused',
      `T17 expired at ${NOW.toISOString()}; ask for a new draft instead of approving this one`,
    );
  });

  it('approves without a ledger (nothing recorded, still signed)', async () => {
    const v = await vault({ ledger: false });
    await draft(v.root, 'T18');
    const out = await approveTask(v.ctx, KEY, 'T18', 'cli');
    expect(verifyApproval(KEY, 'T18', out.approval, NOW)).toEqual({ ok: true });
    expect(await v.ledger.records()).toEqual([]);
  });
});

describe('approveTask: Approved/ files and the ledger', () => {
  it('re-signs a refused or an already approved file in Approved/ in place', async () => {
    const v = await vault();
    const signed = await signedIn(v, 'T20');
    await put(
      v.root,
      'Approved/T20.md',
      stringifyMarkdown({
        data: { ...signed, status: 'refused', refusal_reason: 'forged', refused_at: NOW.toISOString() },
        body: DEFAULT_BODY,
      }),
    );
    const out = await approveTask(v.ctx, OTHER_KEY, 'T20', 'cli');
    expect(out.touched).toEqual(['Approved/T20.md', 'Pending_Approval/email/T20.md', 'Logs']);
    const onDisk = await fm(v.root, 'Approved/T20.md');
    expect(onDisk.status).toBe('approved');
    expect(onDisk.refusal_reason).toBeUndefined();
    expect(
      verifyApproval(
        OTHER_KEY,
        'T20',
        decodeApproval(await readFile(join(v.root, 'Approved/T20.md'), 'utf8')),
        NOW,
      ),
    ).toEqual({ ok: true });

    // An unsigned copy a sync brought into Approved/ (status approved) is signed here.
    await put(v.root, 'Approved/T21.md', stringifyMarkdown(draftDoc('T21', { status: 'approved' })));
    await approveTask(v.ctx, KEY, 'T21', 'cli');
    expect((await fm(v.root, 'Approved/T21.md')).approval_signature).toMatch(/^hmac-sha256:/);

    // A pending copy in Approved/ too.
    await put(v.root, 'Approved/T22.md', stringifyMarkdown(draftDoc('T22')));
    await approveTask(v.ctx, KEY, 'T22', 'cli');
    expect((await fm(v.root, 'Approved/T22.md')).status).toBe('approved');
  });

  it('signs a request in Pending_Approval/ whatever status it carries: the folder is its state', async () => {
    const v = await vault();
    await draft(v.root, 'T19', { status: 'rejected' });
    const out = await approveTask(v.ctx, KEY, 'T19', 'cli');
    expect(out.approval.data.status).toBe('approved');
    expect(await exists(v.root, 'Pending_Approval/email/T19.md')).toBe(false);
  });

  it('takes Approved/ over Pending_Approval/ and removes every pending copy', async () => {
    const v = await vault();
    await draft(v.root, 'T23', { at: 'Pending_Approval/email/T23.md' });
    await draft(v.root, 'T23', { at: 'Pending_Approval/files/T23.md', to: 'other@example.com' });
    await put(v.root, 'Approved/T23.md', stringifyMarkdown(draftDoc('T23', { to: 'approved@example.com' })));
    const out = await approveTask(v.ctx, KEY, 'T23', 'cli');
    expect(out.approval.data.to).toBe('approved@example.com');
    expect(await exists(v.root, 'Pending_Approval/email/T23.md')).toBe(false);
    expect(await exists(v.root, 'Pending_Approval/files/T23.md')).toBe(false);
    expect(out.touched).toEqual([
      'Approved/T23.md',
      'Pending_Approval/email/T23.md',
      'Pending_Approval/files/T23.md',
      'Logs',
    ]);
  });

  it.each(['executed', 'uncertain', 'rejected', 'failed', 'expired'])(
    'refuses an Approved/ file that is %s: there is nothing to approve',
    async (status) => {
      const v = await vault();
      await put(v.root, 'Approved/T24.md', stringifyMarkdown(draftDoc('T24', { status })));
      const before = await readFile(join(v.root, 'Approved/T24.md'), 'utf8');
      await refused(
        approveTask(v.ctx, KEY, 'T24', 'cli'),
        'conflict',
        `Approved/T24.md is ${status}; there is nothing to approve`,
      );
      expect(await readFile(join(v.root, 'Approved/T24.md'), 'utf8')).toBe(before);
      expect(await v.ledger.records()).toEqual([]);
    },
  );

  it('never approves again what the ledger says was sent or may have been', async () => {
    for (const [records, state] of [
      [[record(keyOf('T25'), 'intent'), record(keyOf('T25'), 'outcome', 'sent')], 'sent'],
      [[record(keyOf('T25'), 'intent')], 'uncertain'],
    ] as const) {
      const v = await vault();
      await draft(v.root, 'T25');
      await v.ledger.appendMany([...records]);
      await refused(
        approveTask(v.ctx, KEY, 'T25', 'cli'),
        'conflict',
        `T25 has already been carried out or may have been (${state}); it is not approved again`,
      );
      expect(await exists(v.root, 'Approved/T25.md')).toBe(false);
      expect(await exists(v.root, 'Pending_Approval/email/T25.md')).toBe(true);
      expect(await v.ledger.records()).toHaveLength(records.length);
      expect(await audit(v)).toEqual([]);
    }
  });

  it('approves again after a send that certainly did not happen or failed for good', async () => {
    for (const outcome of ['not_sent', 'failed'] as const) {
      const v = await vault();
      await draft(v.root, 'T26');
      await v.ledger.appendMany([record(keyOf('T26'), 'intent'), record(keyOf('T26'), 'outcome', outcome)]);
      const out = await approveTask(v.ctx, KEY, 'T26', 'cli');
      expect(out.approval.data.status).toBe('approved');
    }
  });
});

describe('rejectTask', () => {
  it('moves the request and its item to Rejected/ and records the rejection first in the ledger', async () => {
    const v = await vault();
    await draft(v.root, 'R1');
    const out = await rejectTask(v.ctx, 'R1', 'wrong client', 'cli');
    expect(out.path).toBe('Rejected/R1.md');
    expect(out.touched).toEqual([
      'Rejected/R1.md',
      'Approved/R1.md',
      'Rejected/R1.item.md',
      'In_Progress/cloud/R1.md',
      'Rejected/R1.item.md',
      'Pending_Approval/email/R1.md',
      'In_Progress/cloud/R1.md',
      'Logs',
    ]);
    expect(await exists(v.root, 'Pending_Approval/email/R1.md')).toBe(false);
    expect(await exists(v.root, 'In_Progress/cloud/R1.md')).toBe(false);
    const doc = parseMarkdown(await readFile(join(v.root, 'Rejected/R1.md'), 'utf8'));
    const { data, body } = draftDoc('R1');
    expect(doc).toEqual({
      data: { ...data, status: 'rejected', rejected_at: NOW.toISOString(), rejection_reason: 'wrong client' },
      body,
    });
    expect((await fm(v.root, 'Rejected/R1.item.md')).status).toBe('rejected');
    expect(await v.ledger.records()).toEqual([
      {
        ts: NOW.toISOString(),
        key: keyOf('R1'),
        task: 'R1',
        action: 'send_email',
        kind: 'rejected',
        detail: 'wrong client',
      },
    ]);
    const records = await audit(v);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      action_type: 'approval_rejected',
      actor: 'local',
      target: 'Rejected/R1.md',
      parameters: { action: 'send_email', via: 'cli', reason: 'wrong client' },
      approval_status: 'rejected',
      approved_by: null,
      result: 'rejected',
      task: 'R1',
    });
  });

  it('says who rejected when no reason is given; the ledger keeps 300 characters of a long one', async () => {
    const v = await vault();
    await draft(v.root, 'R2');
    await rejectTask(v.ctx, 'R2', undefined, 'status_page');
    expect((await fm(v.root, 'Rejected/R2.md')).rejection_reason).toBe('rejected by the owner (status_page)');
    expect((await v.ledger.records())[0]?.detail).toBe('rejected by the owner (status_page)');

    await draft(v.root, 'R3');
    const long = `${'n'.repeat(299)}XY`;
    await rejectTask(v.ctx, 'R3', long, 'obsidian');
    expect((await fm(v.root, 'Rejected/R3.md')).rejection_reason).toBe(long);
    expect((await v.ledger.records())[1]?.detail).toBe(`${'n'.repeat(299)}X`);
  });

  it('rejects a signed approval not yet sent: every copy goes, the Rejected/ file stays', async () => {
    const v = await vault();
    const signed = await signedIn(v, 'R4');
    await draft(v.root, 'R4', { at: 'Pending_Approval/files/R4.md', to: 'pending@example.com' });
    await v.ledger.appendMany([record(keyOf('R4'), 'intent'), record(keyOf('R4'), 'outcome', 'not_sent')]);
    await rejectTask(v.ctx, 'R4', 'changed my mind', 'cli');
    expect(await exists(v.root, 'Approved/R4.md')).toBe(false);
    expect(await exists(v.root, 'Pending_Approval/files/R4.md')).toBe(false);
    const data = await fm(v.root, 'Rejected/R4.md');
    // The pending copy is read before the Approved/ one.
    expect(data.to).toBe('pending@example.com');
    expect(data.status).toBe('rejected');
    expect(signed.status).toBe('approved');
  });

  it.each(['executed', 'uncertain'])(
    'refuses to reject an approval that is %s, and moves nothing',
    async (status) => {
      const v = await vault();
      await put(v.root, 'Approved/R5.md', stringifyMarkdown(draftDoc('R5', { status })));
      await refused(
        rejectTask(v.ctx, 'R5', 'stop', 'cli'),
        'conflict',
        `R5 is ${status}; it can no longer be rejected`,
      );
      expect(await exists(v.root, 'Approved/R5.md')).toBe(true);
      expect(await exists(v.root, 'Rejected/R5.md')).toBe(false);
      expect(await v.ledger.records()).toEqual([]);
      expect(await audit(v)).toEqual([]);
    },
  );

  it('refuses to reject what the ledger says was sent or may have been (the ledger given or the context one)', async () => {
    for (const [records, state] of [
      [[record(keyOf('R6'), 'intent'), record(keyOf('R6'), 'outcome', 'sent')], 'sent'],
      [[record(keyOf('R6'), 'intent')], 'uncertain'],
    ] as const) {
      const v = await vault();
      await draft(v.root, 'R6');
      await v.ledger.appendMany([...records]);
      const message = `R6 has already been sent or may have been (${state}); it cannot be rejected`;
      await refused(rejectTask(v.ctx, 'R6', 'stop', 'cli'), 'conflict', message);
      await refused(
        rejectTask({ ...v.ctx, ledger: undefined }, 'R6', 'stop', 'cli', v.ledger),
        'conflict',
        message,
      );
      expect(await exists(v.root, 'Pending_Approval/email/R6.md')).toBe(true);
      expect(await exists(v.root, 'Rejected/R6.md')).toBe(false);
      expect(await v.ledger.records()).toHaveLength(records.length);
    }
    // Without any ledger there is nothing to check against.
    const bare = await vault({ ledger: false });
    await draft(bare.root, 'R6');
    await rejectTask(bare.ctx, 'R6', 'stop', 'cli');
    expect(await exists(bare.root, 'Rejected/R6.md')).toBe(true);
  });

  it.each(['pending', 'approved', 'refused', 'failed', 'expired'])(
    'rejects again a Rejected/ copy that is %s (a sync brought it back)',
    async (status) => {
      const v = await vault();
      await put(v.root, 'Rejected/R7.md', stringifyMarkdown(draftDoc('R7', { status })));
      await rejectTask(v.ctx, 'R7', 'still no', 'cli');
      const data = await fm(v.root, 'Rejected/R7.md');
      expect(data.status).toBe('rejected');
      expect(data.rejection_reason).toBe('still no');
    },
  );

  it.each(['rejected', 'executed', 'uncertain'])(
    'refuses to reject a Rejected/ file that is %s',
    async (status) => {
      const v = await vault();
      await put(v.root, 'Rejected/R8.md', stringifyMarkdown(draftDoc('R8', { status })));
      await draft(v.root, 'R8');
      await refused(
        rejectTask(v.ctx, 'R8', 'again', 'cli'),
        'conflict',
        `R8 is already ${status} in Rejected/`,
      );
      expect(await exists(v.root, 'Pending_Approval/email/R8.md')).toBe(true);
      expect(await v.ledger.records()).toEqual([]);
    },
  );

  it('rejects a request in Pending_Approval/ whatever status it carries (only Rejected/ copies are checked)', async () => {
    const v = await vault();
    await draft(v.root, 'R14', { status: 'rejected' });
    await rejectTask(v.ctx, 'R14', 'no', 'cli');
    expect(await exists(v.root, 'Pending_Approval/email/R14.md')).toBe(false);
    expect((await fm(v.root, 'Rejected/R14.md')).rejection_reason).toBe('no');
  });

  it('rejects an invalid request too, with a key of its action and id', async () => {
    const v = await vault();
    await draft(v.root, 'R9', { noHash: true });
    await rejectTask(v.ctx, 'R9', 'garbage', 'cli');
    expect(await exists(v.root, 'Pending_Approval/email/R9.md')).toBe(false);
    expect((await fm(v.root, 'Rejected/R9.md')).status).toBe('rejected');

    const doc = draftDoc('R10', { noHash: true });
    delete doc.data.action;
    await put(v.root, 'Pending_Approval/email/R10.md', stringifyMarkdown(doc));
    await rejectTask(v.ctx, 'R10', 'garbage', 'cli');
    expect((await v.ledger.records()).map((r) => [r.key, r.action])).toEqual([
      ['send_email:R9:-', 'send_email'],
      ['unknown:R10:-', 'unknown'],
    ]);
    expect((await audit(v)).map((r) => r.parameters.action)).toEqual(['send_email', null]);
  });

  it('refuses a request a sync removed between finding and reading it', async () => {
    const v = await vault();
    await draft(v.root, 'R20');
    await refused(
      rejectTask({ ...v.ctx, files: new SyncDeletesBeforeRead(v.root) }, 'R20', 'no', 'cli'),
      'refused',
      'Pending_Approval/email/R20.md cannot be read: missing',
    );
    expect(await exists(v.root, 'Rejected/R20.md')).toBe(false);
    expect(await exists(v.root, 'In_Progress/cloud/R20.md')).toBe(true);
    expect(await v.ledger.records()).toEqual([]);
    expect(await audit(v)).toEqual([]);
  });

  it('refuses what cannot be read, with the reason, and a task with no request', async () => {
    const v = await vault();
    await put(v.root, 'Pending_Approval/email/R11.md', 'no frontmatter here\n');
    const unreadable = await new TaskFiles(v.root).readApproval('Pending_Approval/email/R11.md');
    await refused(
      rejectTask(v.ctx, 'R11', undefined, 'cli'),
      'refused',
      `Pending_Approval/email/R11.md cannot be read: ${(unreadable as { reason: string }).reason}`,
    );
    expect(await exists(v.root, 'Pending_Approval/email/R11.md')).toBe(true);

    await put(v.root, 'Pending_Approval/email/R12.md', `---\na: 1\n---\n${'x'.repeat(5 * 1024 * 1024)}`);
    const size = (await lstat(join(v.root, 'Pending_Approval/email/R12.md'))).size;
    await refused(
      rejectTask(v.ctx, 'R12', undefined, 'cli'),
      'refused',
      `Pending_Approval/email/R12.md cannot be read: ${size} bytes, more than ${5 * 1024 * 1024}`,
    );
    await refused(
      rejectTask(v.ctx, 'R13', undefined, 'cli'),
      'not_found',
      'no approval request R13 in Pending_Approval/ or Approved/',
    );
    expect(await v.ledger.records()).toEqual([]);
    expect(await audit(v)).toEqual([]);
  });
});

describe('refuseApproval', () => {
  it('marks the approval refused where it lies, with the reason, and audits it', async () => {
    const v = await vault();
    const signed = await signedIn(v, 'F1');
    const touched = await refuseApproval(
      v.ctx,
      'Approved/F1.md',
      'F1',
      { data: signed, body: DEFAULT_BODY },
      'forged',
      'the signature does not verify',
    );
    expect(touched).toEqual(['Approved/F1.md', 'Logs']);
    const doc = parseMarkdown(await readFile(join(v.root, 'Approved/F1.md'), 'utf8'));
    expect(doc).toEqual({
      data: {
        ...signed,
        status: 'refused',
        refused_at: NOW.toISOString(),
        refusal_reason: 'the signature does not verify',
        error: 'refused: the signature does not verify',
      },
      body: DEFAULT_BODY,
    });
    const records = await audit(v);
    expect(records.at(-1)).toMatchObject({
      action_type: 'approval_refused',
      actor: 'local',
      target: 'Approved/F1.md',
      parameters: { code: 'forged', reason: 'the signature does not verify', action: 'send_email' },
      approval_status: 'refused',
      approved_by: 'alice',
      result: 'refused',
      task: 'F1',
    });

    const { data } = draftDoc('F2');
    delete data.action;
    await refuseApproval(v.ctx, 'Approved/F2.md', 'F2', { data, body: '' }, 'unsigned', 'no signature');
    expect((await audit(v)).at(-1)).toMatchObject({
      parameters: { code: 'unsigned', reason: 'no signature', action: null },
      approved_by: null,
    });
  });
});

describe('resolveTask', () => {
  async function uncertain(v: Vault, id: string): Promise<string> {
    const signed = await signedIn(v, id);
    await put(
      v.root,
      `Approved/${id}.md`,
      stringifyMarkdown({
        data: { ...signed, status: 'uncertain', error: 'connection lost' },
        body: DEFAULT_BODY,
      }),
    );
    const key = idempotencyKey({ data: signed as { action: string; task: string; content_sha256: string } });
    await v.ledger.append(record(key, 'intent'));
    return key;
  }

  it.each([
    ['sent', 'owner_says_sent', 'sent'],
    ['not_sent', 'owner_says_not_sent', 'retry'],
  ] as const)(
    '--%s: the file is approved again, then the ledger takes the word',
    async (outcome, result, state) => {
      const v = await vault();
      const key = await uncertain(v, 'U1');
      const out = await resolveTask(v.ctx, v.ledger, 'U1', outcome);
      expect(out).toEqual({ path: 'Approved/U1.md', touched: ['Approved/U1.md', 'Logs'] });
      const doc = parseMarkdown(await readFile(join(v.root, 'Approved/U1.md'), 'utf8'));
      expect(doc.data.status).toBe('approved');
      expect(doc.data.error).toBeUndefined();
      expect(doc.body).toBe(DEFAULT_BODY);
      expect(
        verifyApproval(
          KEY,
          'U1',
          decodeApproval(await readFile(join(v.root, 'Approved/U1.md'), 'utf8')),
          NOW,
        ),
      ).toEqual({ ok: true });
      expect((await v.ledger.records()).at(-1)).toEqual({
        ts: NOW.toISOString(),
        key,
        task: 'U1',
        action: 'send_email',
        kind: 'resolution',
        outcome,
        detail: 'resolved by alice',
      });
      expect((await v.ledger.state(key)).state).toBe(state);
      expect((await audit(v)).at(-1)).toMatchObject({
        action_type: 'send_resolved',
        actor: 'local',
        target: 'Approved/U1.md',
        parameters: { outcome, via: 'cli' },
        approval_status: 'approved',
        approved_by: 'alice',
        result,
        task: 'U1',
        idempotency_key: key,
      });
    },
  );

  it('records the status page as where the word came from', async () => {
    const v = await vault();
    await uncertain(v, 'U2');
    await resolveTask(v.ctx, v.ledger, 'U2', 'sent', 'status_page');
    expect((await audit(v)).at(-1)?.parameters).toEqual({ outcome: 'sent', via: 'status_page' });
  });

  it('resolves only an uncertain approval', async () => {
    const v = await vault();
    await signedIn(v, 'U3');
    await refused(
      resolveTask(v.ctx, v.ledger, 'U3', 'not_sent'),
      'conflict',
      'U3 is approved, not uncertain; there is nothing to resolve',
    );
    await refused(resolveTask(v.ctx, v.ledger, 'U4', 'sent'), 'not_found', 'no approval U4 in Approved/');
    expect(await v.ledger.records()).toEqual([]);
  });

  it("never releases a send the ledger knows the end of: the file's word is not enough", async () => {
    const v = await vault();
    const key = await uncertain(v, 'U5');
    await v.ledger.append(record(key, 'outcome', 'sent'));
    const before = await readFile(join(v.root, 'Approved/U5.md'), 'utf8');
    await refused(
      resolveTask(v.ctx, v.ledger, 'U5', 'not_sent'),
      'conflict',
      "this machine's ledger says U5 is sent, not uncertain; there is nothing to resolve",
    );
    expect(await readFile(join(v.root, 'Approved/U5.md'), 'utf8')).toBe(before);
    expect(await v.ledger.records()).toHaveLength(2);

    const other = await vault();
    await uncertain(other, 'U6');
    const fresh = new Ledger(join(await tempDir('fte-decisions-fresh-'), 'ledger.jsonl'));
    await refused(
      resolveTask(other.ctx, fresh, 'U6', 'not_sent'),
      'conflict',
      "this machine's ledger says U6 is fresh, not uncertain; there is nothing to resolve",
    );
  });

  it('refuses an unreadable, invalid or oversized Approved/ file with the reason', async () => {
    const v = await vault();
    await put(
      v.root,
      'Approved/U7.md',
      stringifyMarkdown(draftDoc('U7', { status: 'uncertain', noHash: true })),
    );
    const invalid = await new TaskFiles(v.root).readApproval('Approved/U7.md');
    await refused(
      resolveTask(v.ctx, v.ledger, 'U7', 'sent'),
      'refused',
      `Approved/U7.md is not a valid approval: ${(invalid as { reason: string }).reason}`,
    );
    await put(v.root, 'Approved/U8.md', 'x'.repeat(5 * 1024 * 1024 + 1));
    await refused(
      resolveTask(v.ctx, v.ledger, 'U8', 'sent'),
      'refused',
      `Approved/U8.md is ${5 * 1024 * 1024 + 1} bytes, more than ${5 * 1024 * 1024}; it is never read`,
    );
    expect(await v.ledger.records()).toEqual([]);
    expect(await audit(v)).toEqual([]);
  });
});
