import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMarkdown } from '../../core/frontmatter.js';
import type { ApprovalDetail, ApprovalSummary } from '../../core/ui-api.js';
import {
  auditRecords,
  cloudDrafts,
  executive,
  onCleanup,
  runCli,
  smtpEnv,
  smtpServer,
  testKey,
  world,
} from '../executor/helpers.js';
import { cloudEnv, startFte } from '../helpers/cli.js';
import { executorWithPage, PageClient, uncertainSend, until } from './helpers.js';

/**
 * The status page's API against the real executor daemon, a real git remote and a real SMTP server:
 * what the page's buttons do, and what an attacker's page or a rebinding DNS name cannot do.
 */

async function drafted(ids: string[]) {
  const w = await world();
  const key = await testKey(w.keyFile);
  for (const id of ids) await cloudDrafts(w.cloud, id, { push: id === ids.at(-1) });
  await executive(w, key, undefined).pass();
  return w;
}

function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('status page API (fte executor serves it on loopback)', () => {
  it('lists pending approvals, shows every recipient, approves once with the CSRF token: exactly one message', async () => {
    const w = await drafted(['EMAIL_P1', 'EMAIL_P2']);
    const smtp = await smtpServer();
    const exec = await executorWithPage(w, smtp.port);
    const page = new PageClient(exec.url);
    const info = await page.session();
    expect(info).toMatchObject({ mode: 'local', readOnly: false, authRequired: false, authenticated: true });
    expect(page.csrf).toMatch(/^[A-Za-z0-9_-]{40,}$/);

    const list = (await page.get('/api/approvals')).json as ApprovalSummary[];
    expect(list.map((a) => a.id).sort()).toEqual(['EMAIL_P1', 'EMAIL_P2']);
    const detail = (await page.get('/api/approvals/EMAIL_P1')).json as ApprovalDetail;
    expect(detail.effect).toContainEqual(['to', 'client@example.com']);
    expect(detail.original?.body).toContain('January invoice');
    expect(detail.seen).toMatch(/^[0-9a-f]{64}$/);

    // Without the token: refused, nothing approved.
    const forged = await page.post('/api/approvals/EMAIL_P1/approve', { seen: detail.seen }, false);
    expect(forged.status).toBe(403);
    expect(existsSync(join(w.local.dir, 'Approved/EMAIL_P1.md'))).toBe(false);
    // A cross-site page cannot send it either, even with a guessed header.
    const crossSite = await page.request(
      'POST',
      '/api/approvals/EMAIL_P1/approve',
      { seen: detail.seen },
      { 'x-csrf-token': page.csrf, origin: 'http://evil.example' },
    );
    expect(crossSite.status).toBe(403);

    const approved = await page.post('/api/approvals/EMAIL_P1/approve', { seen: detail.seen });
    expect(approved.status).toBe(200);
    expect(approved.json).toMatchObject({ id: 'EMAIL_P1', outcome: 'approved' });
    await until('the message', () => (smtp.received.length > 0 ? true : undefined));
    await until('Done/EMAIL_P1.md', () => existsSync(join(w.local.dir, 'Done/EMAIL_P1.md')) || undefined);
    // Approving again is refused; the message went out once.
    const again = await page.post('/api/approvals/EMAIL_P1/approve', { seen: detail.seen });
    expect(again.status).toBe(404);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(smtp.received).toHaveLength(1);
    const granted = (await auditRecords(w.local.dir)).filter((r) => r.action_type === 'approval_granted');
    expect(granted).toMatchObject([{ task: 'EMAIL_P1', parameters: { via: 'status_page' } }]);
  });

  it('an edit is what gets sent; a request that changed since it was shown is not signed', async () => {
    const w = await drafted(['EMAIL_E']);
    const smtp = await smtpServer();
    const exec = await executorWithPage(w, smtp.port);
    const page = new PageClient(exec.url);
    await page.session();
    const detail = (await page.get('/api/approvals/EMAIL_E')).json as ApprovalDetail;

    const stale = await page.post('/api/approvals/EMAIL_E/approve', { seen: 'a'.repeat(64), body: 'x\n' });
    expect(stale.status).toBe(409);
    expect(existsSync(join(w.local.dir, 'Approved/EMAIL_E.md'))).toBe(false);

    const edited = 'Dear client,\n\nEdited by the owner: the invoice follows tomorrow.\n\nBest,\nOwner\n';
    const res = await page.post('/api/approvals/EMAIL_E/approve', { seen: detail.seen, body: edited });
    expect(res.status).toBe(200);
    await until('the message', () => (smtp.received.length > 0 ? true : undefined));
    expect(smtp.received[0]?.parsed.text).toBe(edited);
    await until('Done/EMAIL_E.md', () => existsSync(join(w.local.dir, 'Done/EMAIL_E.md')) || undefined);
    const done = parseMarkdown(await readFile(join(w.local.dir, 'Done/EMAIL_E.md'), 'utf8')).data;
    expect(done.original_content_sha256).toBeTypeOf('string');
  });

  it('reject with a reason sends nothing and files the reason in Rejected/', async () => {
    const w = await drafted(['EMAIL_R']);
    const smtp = await smtpServer();
    const exec = await executorWithPage(w, smtp.port);
    const page = new PageClient(exec.url);
    await page.session();
    expect((await page.post('/api/approvals/EMAIL_R/reject', { reason: '' })).status).toBe(422);
    const res = await page.post('/api/approvals/EMAIL_R/reject', { reason: 'wrong client, do not answer' });
    expect(res.status).toBe(200);
    const rejected = parseMarkdown(await readFile(join(w.local.dir, 'Rejected/EMAIL_R.md'), 'utf8')).data;
    expect(JSON.stringify(rejected)).toContain('wrong client, do not answer');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(smtp.connections()).toBe(0);
  });

  it('an Uncertain send resolved as sent through the page is filed in Done/ without sending', async () => {
    const w = await drafted(['EMAIL_U']);
    const smtp = await smtpServer();
    await uncertainSend(w, smtp.port, 'EMAIL_U');
    const exec = await executorWithPage(w, smtp.port);
    const page = new PageClient(exec.url);
    await page.session();
    const uncertain = await until('the Uncertain send', async () => {
      const list = (await page.get('/api/uncertain')).json as Array<{ id: string }>;
      return list.length > 0 ? list : undefined;
    });
    expect(uncertain).toMatchObject([{ id: 'EMAIL_U', action: 'send_email', target: 'client@example.com' }]);
    const overview = (await page.get('/api/overview')).json as { alerts: Array<{ kind: string }> };
    expect(overview.alerts.map((a) => a.kind)).toContain('uncertain');
    await until(
      'the Approved/ file marked uncertain',
      async () =>
        /status: uncertain/.test(await readFile(join(w.local.dir, 'Approved/EMAIL_U.md'), 'utf8')) ||
        undefined,
    );
    const res = await page.post('/api/uncertain/EMAIL_U/resolve', { outcome: 'sent' });
    expect(res.status).toBe(200);
    await until('Done/EMAIL_U.md', () => existsSync(join(w.local.dir, 'Done/EMAIL_U.md')) || undefined);
    expect(smtp.connections()).toBe(0);
    expect((await page.get('/api/uncertain')).json).toEqual([]);
    const resolved = (await auditRecords(w.local.dir)).filter((r) => r.action_type === 'send_resolved');
    expect(resolved).toMatchObject([
      { task: 'EMAIL_U', parameters: { outcome: 'sent', via: 'status_page' } },
    ]);
  });

  it('answers only to loopback host names (DNS rebinding), with a CSP that allows no inline code', async () => {
    const w = await drafted(['EMAIL_H']);
    const smtp = await smtpServer();
    const exec = await executorWithPage(w, smtp.port);
    const port = new URL(exec.url).port;
    const rebound = await rawGet(`${exec.url}api/approvals`, { host: `evil.example:${port}` });
    expect(rebound.status).toBe(421);
    expect(rebound.body).not.toContain('EMAIL_H');
    const page = await fetch(exec.url);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    expect(html).toContain('<div id="root">');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style/);
  });

  it('a non-loopback bind without a password or token refuses to start; with a token it needs sign-in', async () => {
    const w = await drafted(['EMAIL_A']);
    const smtp = await smtpServer();
    const refused = await runCli(
      ['executor', '--vault', w.local.dir, '--ui-bind', '0.0.0.0', '--ui-port', '0'],
      smtpEnv(smtp.port, w.keyFile),
      20_000,
    );
    expect(refused.code).toBe(78);
    expect(refused.stderr).toMatch(/not loopback, without a password/);

    const token = 't'.repeat(40);
    const exec = await executorWithPage(w, smtp.port, { FTE_UI_TOKEN: token, FTE_UI_BIND: '0.0.0.0' });
    const page = new PageClient(exec.url.replace('0.0.0.0', '127.0.0.1'));
    expect(await page.session()).toMatchObject({ authRequired: true, authenticated: false });
    expect((await page.get('/api/approvals')).status).toBe(401);
    expect((await page.post('/api/login', { secret: 'wrong' })).status).toBe(401);
    const ok = await page.post('/api/login', { secret: token });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    await page.session();
    expect(((await page.get('/api/approvals')).json as ApprovalSummary[]).map((a) => a.id)).toEqual([
      'EMAIL_A',
    ]);
    expect(JSON.stringify(await page.session())).not.toContain(token);
  });

  it('a vault change reaches an open event stream', async () => {
    const w = await drafted(['EMAIL_L']);
    const smtp = await smtpServer();
    const exec = await executorWithPage(w, smtp.port);
    const page = new PageClient(exec.url);
    await page.session();
    const controller = new AbortController();
    const res = await fetch(new URL('/api/events', exec.url), {
      headers: { cookie: page.cookie },
      signal: controller.signal,
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let seen = '';
    const read = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        seen += Buffer.from(value).toString('utf8');
        if (/event: change\ndata: .*"tasks"/.test(seen)) return;
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    await writeFile(
      join(w.local.dir, 'Needs_Action', 'email', 'EMAIL_NEW.md'),
      '---\ntype: email\n---\nhi\n',
    );
    await Promise.race([read, new Promise((r) => setTimeout(r, 5_000))]);
    controller.abort();
    expect(seen).toMatch(/event: change\ndata: \{"topics":\[[^\]]*"tasks"/);
  });
});

describe('status page in cluster mode (fte operator --ui-port): read-only', () => {
  it('shows the same views and refuses every decision', async () => {
    const w = await drafted(['EMAIL_C']);
    const run = startFte(['operator', '--vault', w.cloud.dir, '--ui-port', '0', '--port', '0'], {
      ...cloudEnv(),
      FTE_LOG_LEVEL: 'info',
    });
    onCleanup(async () => {
      run.child.kill('SIGTERM');
      await run.done;
    });
    const url = await until('the page address in the log', () => {
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+\/)"[^\n]*read-only status page listening/.exec(
        run.output().stderr,
      );
      return m?.[1];
    });
    const page = new PageClient(url);
    expect(await page.session()).toMatchObject({ mode: 'cluster', readOnly: true, authenticated: true });
    const list = (await page.get('/api/approvals')).json as ApprovalSummary[];
    expect(list.map((a) => a.id)).toEqual(['EMAIL_C']);
    const detail = (await page.get('/api/approvals/EMAIL_C')).json as ApprovalDetail;
    const res = await page.post('/api/approvals/EMAIL_C/approve', { seen: detail.seen });
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ error: 'read-only: approve on your laptop' });
    expect((await page.post('/api/approvals/EMAIL_C/reject', { reason: 'x' })).status).toBe(403);
    expect(existsSync(join(w.cloud.dir, 'Approved/EMAIL_C.md'))).toBe(false);
  });
});
