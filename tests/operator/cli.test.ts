import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeApproval } from '../../core/codec.js';
import { git, itemText, remoteWithClones } from '../helpers/vaults.js';
import { answer, startMessagesServer } from './messages-server.js';
import { assertBuilt, cleanEnv, eventually, freePort, fte, start } from './process.js';

const EMAIL = itemText(
  {
    type: 'email',
    from: 'client@example.com',
    subject: 'Quote for 20 chairs',
    message_id: '<q1@mail.example.com>',
  },
  'Hello, could you send a quote for 20 chairs?\n',
);

async function draftCommits(dir: string, id: string): Promise<number> {
  return (await git(dir, 'log', '--format=%s', `--grep=^cloud: draft ${id}$`)).split('\n').filter(Boolean)
    .length;
}

async function approvals(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'Pending_Approval/email'))).filter((f) => f.endsWith('.md'));
}

beforeAll(assertBuilt);

describe('fte operator (the real process)', () => {
  it('refuses to start with send credentials in the environment: one line, exit 78', async () => {
    const { clones } = await remoteWithClones(['cloud']);
    const vault = clones.cloud!.dir;
    for (const [name, value] of [
      ['SMTP_PASSWORD', 'hunter2'],
      ['WHATSAPP_SESSION_PATH', '/tmp/wa.session'],
      ['BANK_API_TOKEN', 't'],
      ['ACME_BANK_TOKEN', 't'],
      ['PAYMENT_STRIPE_TOKEN', 't'],
      ['FTE_APPROVAL_KEY_FILE', '/tmp/key'],
      ['FTE_APPROVAL_KEY', 'k'],
    ]) {
      const run = await fte(['operator', '--vault', vault, '--once'], cleanEnv({ [name!]: value }));
      expect(run.code, name).toBe(78);
      expect(run.stderr.trim().split('\n'), name).toHaveLength(1);
      expect(run.stderr).toContain(`refusing to start: send credentials are set (${name})`);
      expect(run.stderr).not.toContain(value!.length > 2 ? value! : 'never');
    }
    expect(await git(vault, 'log', '--format=%s')).not.toMatch(/operator|claim/);
  });

  it('--once twice against a bare remote: the approval reaches the local clone, and there is one draft, not two', async () => {
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!.dir;
    await writeFile(join(cloud, 'Needs_Action/email/EMAIL_A.md'), EMAIL);
    const first = await fte(['operator', '--vault', cloud, '--once'], cleanEnv());
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(
      'operator: 1 task (PendingApproval 1); steps: claim 1, triage 1, draft 1; sync synced\n',
    );
    const second = await fte(['operator', '--vault', cloud, '--once'], cleanEnv());
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('steps: none');
    await clones.local!.repo.sync();
    expect(await approvals(clones.local!.dir)).toEqual(['EMAIL_A.md']);
    expect(await draftCommits(clones.local!.dir, 'EMAIL_A')).toBe(1);
    // Every log line about the task names it.
    const taskLines = first.stderr.split('\n').filter((l) => l.includes('EMAIL_A'));
    expect(taskLines.length).toBeGreaterThan(0);
    for (const line of taskLines) expect(JSON.parse(line).task).toBe('EMAIL_A');
  });

  it('SIGKILL between claim and draft, then a restart: exactly one draft', async () => {
    const { clones, remote } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!.dir;
    await writeFile(join(cloud, 'Needs_Action/email/EMAIL_K.md'), EMAIL);
    let hang = true;
    const api = await startMessagesServer((request) => (hang ? 'hang' : answer(request)));
    try {
      const env = cleanEnv({ ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: api.url });
      const { child, done } = start(['operator', '--vault', cloud, '--once'], env);
      // The first model call comes after the claim was committed and pushed; the model never answers it.
      await eventually(() => api.requests.length > 0, 'the first Claude call');
      expect(await git(remote, 'log', '--format=%s', 'main')).toContain('cloud: claim EMAIL_K');
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');
      expect(existsSync(join(cloud, 'In_Progress/cloud/EMAIL_K.md'))).toBe(true);
      expect(await approvals(cloud)).toEqual([]);

      hang = false;
      const restart = await fte(['operator', '--vault', cloud, '--once'], env);
      expect(restart.code, restart.stderr).toBe(0);
      expect(restart.stdout).toContain('steps: triage 1, draft 1');
      expect(await fte(['operator', '--vault', cloud, '--once'], env)).toMatchObject({ code: 0 });
      await clones.local!.repo.sync();
      expect(await approvals(clones.local!.dir)).toEqual(['EMAIL_K.md']);
      expect(await draftCommits(clones.local!.dir, 'EMAIL_K')).toBe(1);
      const approval = decodeApproval(
        await readFile(join(clones.local!.dir, 'Pending_Approval/email/EMAIL_K.md'), 'utf8'),
      );
      expect(approval.data.drafter).toBe('claude:claude-sonnet-4-6');
      expect(approval.body).toContain('The invoice is attached.');
    } finally {
      await api.close();
    }
  });

  it('as a daemon: serves /healthz, /readyz and /metrics, drafts new items as they land, and stops cleanly on SIGTERM', async () => {
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!.dir;
    const port = await freePort();
    const { child, done } = start(
      ['operator', '--vault', cloud, '--port', String(port), '--interval', '1'],
      cleanEnv({ FTE_RESYNC_SECONDS: '1' }),
    );
    try {
      const base = `http://127.0.0.1:${port}`;
      const ready = await eventually(async () => {
        const res = await fetch(`${base}/readyz`).catch(() => undefined);
        return res?.status === 200 ? res : undefined;
      }, '/readyz to answer 200');
      expect(await ready.json()).toMatchObject({ status: 'ok', ready: true, live: true });
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', lastSyncState: 'synced' });
      expect((await fetch(`${base}/nope`)).status).toBe(404);

      await writeFile(join(cloud, 'Needs_Action/email/EMAIL_D.md'), EMAIL);
      await eventually(() => existsSync(join(cloud, 'Pending_Approval/email/EMAIL_D.md')), 'the draft');

      const metrics = await eventually(async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        return /fte_operator_tasks\{phase="PendingApproval"\} 1/.test(text) ? text : undefined;
      }, 'the task pending approval in /metrics');
      expect(metrics).toMatch(/^fte_operator_steps_total\{step="draft"\} 1/m);
      expect(metrics).toMatch(/^fte_operator_reconcile_total\{result="requeue"\} [1-9]/m);
      expect(metrics).toMatch(/^fte_operator_reconcile_total\{result="error"\} 0/m);
      expect(metrics).toMatch(/^fte_operator_reconcile_errors_total 0/m);
      expect(metrics).toMatch(/^fte_operator_reconcile_duration_seconds_count [1-9]/m);
      expect(metrics).toMatch(/^fte_operator_queue_depth 0/m);

      // The daemon pushes soon after its commits: the local clone sees the approval without a restart.
      await eventually(async () => {
        await clones.local!.repo.sync();
        return existsSync(join(clones.local!.dir, 'Pending_Approval/email/EMAIL_D.md'));
      }, 'the approval in the local clone');
    } finally {
      child.kill('SIGTERM');
    }
    const run = await done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('"msg":"operator stopped"');
    expect(await draftCommits(cloud, 'EMAIL_D')).toBe(1);
  });

  it('on SIGTERM the step in flight finishes: a draft being written is committed and pushed before exit', async () => {
    const { clones, remote } = await remoteWithClones(['cloud']);
    const cloud = clones.cloud!.dir;
    // Triage answers at once; the draft call takes a second, and SIGTERM arrives while it runs.
    const api = await startMessagesServer((request) => ({
      ...(answer(request) as Exclude<ReturnType<typeof answer>, 'hang'>),
      delayMs: request.body.output_config ? 0 : 1000,
    }));
    try {
      const env = cleanEnv({ ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: api.url });
      const { child, done } = start(['operator', '--vault', cloud, '--port', '0', '--interval', '30'], env);
      await eventually(() => existsSync(join(cloud, 'Needs_Action/email')), 'the vault');
      await writeFile(join(cloud, 'Needs_Action/email/EMAIL_T.md'), EMAIL);
      await eventually(() => api.requests.length >= 2, 'the draft call');
      child.kill('SIGTERM');
      const run = await done;
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain('stopping: finishing the step in flight');
      expect(await git(remote, 'log', '--format=%s', 'main')).toContain('cloud: draft EMAIL_T');
      expect(await approvals(cloud)).toEqual(['EMAIL_T.md']);
    } finally {
      await api.close();
    }
  });
});
