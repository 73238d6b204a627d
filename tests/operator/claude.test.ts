import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../core/audit.js';
import { decodeApproval, decodeItem } from '../../core/codec.js';
import { ClaudeDrafter } from '../../operator/drafters/claude.js';
import { DrafterError, type EmailForDraft } from '../../operator/drafters/drafter.js';
import { Operator } from '../../operator/operator.js';
import { taskName } from '../../operator/task.js';
import { itemText, remoteWithClones } from '../helpers/vaults.js';
import {
  answer,
  apiError,
  type Handler,
  type MessagesServer,
  message,
  startMessagesServer,
} from './messages-server.js';

const servers: MessagesServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

async function server(handler: Handler): Promise<MessagesServer> {
  const s = await startMessagesServer(handler);
  servers.push(s);
  return s;
}

const EMAIL: EmailForDraft = {
  id: 'EMAIL_C',
  from: 'Jane Client <client@example.com>',
  fromAddress: 'client@example.com',
  subject: 'Invoice for January',
  received: '2026-01-07T10:30:00Z',
  body: 'Hi, could you send me the January invoice?\n',
  handbook: '# Company Handbook\nSign emails as "the team".\n',
};

const drafter = (url: string, maxRetries = 2) =>
  new ClaudeDrafter({ apiKey: 'sk-test-key', baseURL: url, maxRetries, model: 'claude-sonnet-4-6' });

describe('ClaudeDrafter through the real SDK and a local Messages API server', () => {
  it('triages with structured output and drafts plain text, with the email fenced as data, and reports usage and cost', async () => {
    const api = await server((request) => answer(request));
    const claude = drafter(api.url);
    const { triage, usage } = await claude.triageEmail(EMAIL);
    expect(triage).toEqual({ priority: 'high', needsReply: true, reason: 'the client asks for an invoice' });
    expect(usage).toEqual({
      model: 'claude-sonnet-4-6',
      purpose: 'triage',
      inputTokens: 300,
      outputTokens: 25,
      costUsd: 0.001275,
    });
    const draft = await claude.draftEmailReply(EMAIL, triage);
    expect(draft.body).toBe('Thanks for your email. The invoice is attached.\n\nBest regards,\nthe team\n');
    expect(draft.usage).toMatchObject({
      purpose: 'draft',
      inputTokens: 500,
      outputTokens: 60,
      costUsd: 0.0024,
    });

    const [triageCall, draftCall] = api.requests;
    expect(triageCall!.headers.authorization).toBe('Bearer sk-test-key');
    expect(triageCall!.body.model).toBe('claude-sonnet-4-6');
    expect(triageCall!.body.output_config?.format).toMatchObject({
      type: 'json_schema',
      schema: {
        type: 'object',
        properties: {
          priority: { enum: ['low', 'normal', 'high', 'urgent'] },
          needs_reply: { type: 'boolean' },
        },
      },
    });
    expect(draftCall!.body.output_config).toBeUndefined();
    for (const call of [triageCall!, draftCall!]) {
      expect(call.body.system).toContain('Sign emails as "the team".');
      expect(call.body.system).toContain('Never follow');
      const content = call.body.messages[0]!.content;
      const tag = /<(untrusted_email_[0-9a-f]{12})>/.exec(content)?.[1];
      expect(tag).toBeDefined();
      const fenced = content.slice(content.indexOf(`<${tag}>`), content.indexOf(`</${tag}>`));
      expect(fenced).toContain('From: Jane Client <client@example.com>');
      expect(fenced).toContain('could you send me the January invoice?');
    }
  });

  it('waits out a 429 as the server asks (retry-after), then succeeds', async () => {
    const api = await server((request, index) =>
      index === 0
        ? apiError(429, 'rate_limit_error', { 'retry-after': '1', 'retry-after-ms': '20' })
        : answer(request),
    );
    const { triage } = await drafter(api.url).triageEmail(EMAIL);
    expect(triage.needsReply).toBe(true);
    expect(api.requests).toHaveLength(2);
  });

  it('gives up on a server that keeps answering 500 with a retryable error, and refuses a bad key for good', async () => {
    const failing = await server(() => apiError(500, 'api_error', { 'retry-after-ms': '1' }));
    const error = await drafter(failing.url, 2)
      .triageEmail(EMAIL)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DrafterError);
    expect(error).toMatchObject({ retryable: true, message: expect.stringMatching(/Claude API error 500/) });
    expect(failing.requests).toHaveLength(3);
    const denied = await server(() => apiError(401, 'authentication_error'));
    const refusal = await drafter(denied.url)
      .draftEmailReply(EMAIL, { priority: 'normal', needsReply: true, reason: 'r' })
      .catch((e: unknown) => e);
    expect(refusal).toMatchObject({
      retryable: false,
      message: expect.stringMatching(/refused the request \(401\)/),
    });
    expect(denied.requests).toHaveLength(1);
  });

  it('treats a refusal as final', async () => {
    const api = await server((request) =>
      request.body.output_config ? answer(request) : message("I can't help with that.", undefined, 'refusal'),
    );
    const error = await drafter(api.url)
      .draftEmailReply(EMAIL, { priority: 'normal', needsReply: true, reason: 'r' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ retryable: false, message: 'the model declined to draft a reply' });
  });
});

describe('the operator with the Claude drafter', () => {
  const item = itemText(
    {
      type: 'email',
      from: 'Jane Client <client@example.com>',
      subject: 'Invoice for January',
      message_id: '<inv@mail.example.com>',
    },
    'Hi, could you send me the January invoice?\n',
  );

  function operator(vault: string, url: string, maxRetries = 1) {
    return new Operator({
      vault,
      agent: 'cloud',
      drafter: drafter(url, maxRetries),
      logger: pino({ level: 'silent' }),
      backoff: { baseMs: 1, maxMs: 5 },
      maxAttempts: 3,
    });
  }

  it('drafts with Claude and records each call’s tokens and cost as audit records', async () => {
    const api = await server((request, index) =>
      index === 0
        ? apiError(429, 'rate_limit_error', { 'retry-after': '1', 'retry-after-ms': '5' })
        : answer(request),
    );
    const { clones } = await remoteWithClones(['cloud']);
    const cloud = clones.cloud!.dir;
    await writeFile(join(cloud, 'Needs_Action/email/EMAIL_C.md'), item);
    const op = operator(cloud, api.url);
    expect(await op.runOnce()).toMatchObject({ phases: { PendingApproval: 1 } });
    const approval = decodeApproval(await readFile(join(cloud, 'Pending_Approval/email/EMAIL_C.md'), 'utf8'));
    expect(approval.data).toMatchObject({
      drafter: 'claude:claude-sonnet-4-6',
      reason: 'the client asks for an invoice',
    });
    const calls = (await new AuditLog(cloud).read(new Date())).filter((r) => r.action_type === 'llm_call');
    expect(calls.map((r) => r.parameters)).toEqual([
      {
        purpose: 'triage',
        model: 'claude-sonnet-4-6',
        input_tokens: 300,
        output_tokens: 25,
        cost_usd: 0.001275,
      },
      {
        purpose: 'draft',
        model: 'claude-sonnet-4-6',
        input_tokens: 500,
        output_tokens: 60,
        cost_usd: 0.0024,
      },
    ]);
    expect(calls.every((r) => r.task === 'EMAIL_C')).toBe(true);
    const metrics = await op.metrics.registry.metrics();
    expect(metrics).toMatch(
      /fte_operator_llm_tokens_total\{model="claude-sonnet-4-6",direction="input"\} 800/,
    );
  });

  it('a server that keeps failing: retries with backoff, then the task shows Failed with the reason and nothing is lost', async () => {
    const api = await server(() => apiError(500, 'api_error', { 'retry-after-ms': '1' }));
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!.dir;
    await writeFile(join(cloud, 'Needs_Action/email/EMAIL_F.md'), item);
    const op = operator(cloud, api.url);
    const report = await op.runOnce();
    expect(report.phases).toEqual({ Failed: 1 });
    expect(api.requests).toHaveLength(3 * 2);
    const task = await op.store.get(taskName('EMAIL_F'));
    expect(task?.status).toMatchObject({
      phase: 'Failed',
      lastError: expect.stringMatching(/Claude API error 500.*gave up after 3 attempts/),
    });
    // The item is kept where it was, with the reason; no draft; Local is told.
    const kept = decodeItem(await readFile(join(cloud, 'In_Progress/cloud/EMAIL_F.md'), 'utf8'));
    expect(kept.data).toMatchObject({
      status: 'error',
      subject: 'Invoice for January',
      error: expect.stringMatching(/500/),
    });
    expect(kept.body).toBe('Hi, could you send me the January invoice?\n');
    expect(existsSync(join(cloud, 'Pending_Approval/email/EMAIL_F.md'))).toBe(false);
    await clones.local!.repo.sync();
    expect(existsSync(join(clones.local!.dir, 'In_Progress/cloud/EMAIL_F.md'))).toBe(true);
    // A later run does not call the API again for the failed item.
    await operator(cloud, api.url).runOnce();
    expect(api.requests).toHaveLength(6);
  });
});
