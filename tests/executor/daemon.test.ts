import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CLI,
  cloudDrafts,
  localState,
  onCleanup,
  runCli,
  smtpEnv,
  smtpServer,
  testKey,
  world,
} from './helpers.js';

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('fte executor as a daemon', () => {
  it('syncs on its interval, reacts to an approval at once, sends it, and stops cleanly on SIGTERM', async () => {
    const w = await world();
    await testKey(w.keyFile);
    const smtp = await smtpServer();
    const env = smtpEnv(smtp.port, w.keyFile);
    const child = spawn(process.execPath, [CLI, 'executor', '--vault', w.local.dir, '--interval', '1'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    onCleanup(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    // A second executor on the same vault is turned away while this one runs. The lock lives in the
    // state folder, outside the working tree.
    const { lock } = await localState(w);
    await until('the executor lock', () => existsSync(lock));
    expect(existsSync(join(w.local.dir, '.fte/executor.lock'))).toBe(false);
    const second = await runCli(['executor', '--vault', w.local.dir, '--once'], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/another executor \(pid \d+\) already runs on this vault/);

    await cloudDrafts(w.cloud, 'EMAIL_DAEMON');
    await until('the approval request in the local clone', () =>
      existsSync(join(w.local.dir, 'Pending_Approval/email/EMAIL_DAEMON.md')),
    );
    const approve = await runCli(['approve', 'EMAIL_DAEMON', '--vault', w.local.dir], env);
    expect(approve.code).toBe(0);
    await smtp.waitFor(1);
    await until('Done/', () => existsSync(join(w.local.dir, 'Done/EMAIL_DAEMON.md')));
    expect(smtp.received[0]!.parsed.subject).toBe('Re: Invoice for January');

    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(stdout).toMatch(/sent EMAIL_DAEMON <fte-/);
    expect(stderr).toMatch(/stopping after the current pass/);
    expect(existsSync(lock)).toBe(false);
  });

  it('SIGTERM while a send is in flight: the send completes and is recorded, then the process exits 0', async () => {
    const w = await world();
    await testKey(w.keyFile);
    const smtp = await smtpServer({ delayMs: 1500 });
    const env = smtpEnv(smtp.port, w.keyFile);
    await cloudDrafts(w.cloud, 'EMAIL_SLOW');
    expect(
      (await runCli(['executor', '--vault', w.local.dir, '--once'], { ...env, SMTP_HOST: '' })).code,
    ).toBe(0);
    expect((await runCli(['approve', 'EMAIL_SLOW', '--vault', w.local.dir], env)).code).toBe(0);
    const child = spawn(process.execPath, [CLI, 'executor', '--vault', w.local.dir, '--once'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    await until('the message data at the SMTP server', () => smtp.dataArrived() === 1);
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(stdout).toMatch(/sent EMAIL_SLOW/);
    expect(smtp.received).toHaveLength(1);
    expect(existsSync(join(w.local.dir, 'Done/EMAIL_SLOW.md'))).toBe(true);
  });
});
