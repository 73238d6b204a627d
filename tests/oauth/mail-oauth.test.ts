import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { initVault } from '../../core/init.js';
import { loginNeeded } from '../../core/oauth/token-source.js';
import { readTokenFile } from '../../core/oauth/token-store.js';
import { LocalVaultPort } from '../../core/vault/local-port.js';
import { VaultRepo } from '../../core/vault-repo.js';
import { EmailIntake, type IntakeOutcome } from '../../operator/email/intake.js';
import { ImapWatcher } from '../../operator/watchers/imap.js';
import {
  type DovecotServer,
  imapAppend,
  type PostfixServer,
  rawMessage,
  startDovecot,
  startPostfix,
  waitForMessages,
} from '../harness/mail.js';
import { type OAuthTestServer, startOAuthServer } from '../harness/oauth-server.js';
import { emailItems, imapConfigFor, runInBackground, waitFor } from '../mail/helpers.js';
import { CLIENT, signIn } from './helpers.js';

/**
 * OAuth2 mail sign-in against real servers: the test authorization server (tests/harness/oauth-server.ts),
 * Dovecot checking bearer tokens with its oauth2 passdb (RFC 7662 introspection against that server),
 * Postfix submission authenticating through Dovecot's SASL. No mocks.
 */

let oauth: OAuthTestServer;
let dovecot: DovecotServer;
let postfix: PostfixServer | undefined;
let dir: string;
const users = Array.from({ length: 12 }, (_, i) => ({ name: `oauser${i}`, password: `not-used-${i}` }));
let next = 0;
const freshUser = () => users[next++]!.name;

beforeAll(async () => {
  oauth = await startOAuthServer({
    clients: [{ id: CLIENT.id, secret: CLIENT.secret, redirectUris: ['http://127.0.0.1/callback'] }],
  });
  dovecot = await startDovecot({ users, oauth2: { introspectionUrl: oauth.introspectionUrl }, sasl: true });
  postfix = await startPostfix({ dovecot, submission: true });
  dir = await mkdtemp(join(tmpdir(), 'fte-oauth-'));
});
afterAll(async () => {
  await postfix?.stop();
  await dovecot?.destroy();
  await oauth?.close();
});

async function watchedVault(user: string, tokenFile: string) {
  const vaultDir = join(await mkdtemp(join(tmpdir(), 'fte-oauth-vault-')), 'cloud');
  await initVault(vaultDir, { agent: 'cloud' });
  const repo = new VaultRepo({ root: vaultDir, agent: 'cloud' });
  const outcomes: IntakeOutcome[] = [];
  const logged: string[] = [];
  const events: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => logged.push(line) });
  const account = dovecot.account(user);
  const watcher = () =>
    new ImapWatcher({
      config: imapConfigFor(account, { password: '', oauthTokenFile: tokenFile, pollMs: 300 }),
      intake: new EmailIntake({ vault: new LocalVaultPort(repo), log }),
      stateDir: ImapWatcher.defaultStateDir(vaultDir),
      log,
      backoff: { initialMs: 100, maxMs: 400 },
      onOutcome: (outcome) => outcomes.push(outcome),
      onLogin: (event) => events.push(event.kind === 'needed' ? `needed: ${event.line}` : 'restored'),
    });
  return { dir: vaultDir, account, outcomes, logged, events, watcher };
}

describe('IMAP with an OAuth token (Dovecot oauth2 passdb)', () => {
  test('intake works with a token from the code flow; no password anywhere', async () => {
    const user = freshUser();
    const tokenFile = join(dir, `${user}.json`);
    const token = await signIn(oauth, { user, out: tokenFile, side: 'cloud', scopes: 'imap' });
    expect(token.scopes).toEqual(['imap']);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const vault = await watchedVault(user, tokenFile);
    await imapAppend(
      dovecot.account(user),
      rawMessage({ messageId: '<oauth-1@customer.test>', subject: 'By token' }),
    );
    const before = oauth.stats.introspections;
    await vault.watcher().runOnce();
    expect(await emailItems(vault.dir)).toHaveLength(1);
    expect(oauth.stats.introspections).toBeGreaterThan(before);
    // No token in any log line.
    expect(vault.logged.join('')).not.toContain(token.access_token);
    // imapflow chose OAUTHBEARER (RFC 7628), Dovecot's oauth2 passdb accepted it.
    expect(await dovecot.log()).toMatch(new RegExp(`Login: user=<${user}>, method=OAUTHBEARER`));
  });

  test('an expired access token is refreshed transparently', async () => {
    const user = freshUser();
    const tokenFile = join(dir, `${user}.json`);
    await signIn(oauth, { user, out: tokenFile, side: 'cloud', scopes: 'imap' });
    const vault = await watchedVault(user, tokenFile);
    await vault.watcher().runOnce();
    // The server says every token issued so far has expired; the file says so too.
    oauth.expireAccessTokens();
    const old = await readTokenFile(tokenFile);
    await writeFile(
      tokenFile,
      JSON.stringify({ ...old, expires_at: new Date(Date.now() - 1000).toISOString() }),
    );
    const refreshes = oauth.stats.refreshes;
    await imapAppend(
      dovecot.account(user),
      rawMessage({ messageId: '<oauth-2@customer.test>', subject: 'After expiry' }),
    );
    await vault.watcher().runOnce();
    expect(oauth.stats.refreshes).toBe(refreshes + 1);
    expect(await emailItems(vault.dir)).toHaveLength(1);
    const renewed = await readTokenFile(tokenFile);
    expect(renewed.access_token).not.toBe(old.access_token);
    expect(Date.parse(renewed.expires_at)).toBeGreaterThan(Date.now());
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
  });

  test('a token the server stopped accepting early (not yet expired by the clock) is refreshed on the refusal', async () => {
    const user = freshUser();
    const tokenFile = join(dir, `${user}.json`);
    await signIn(oauth, { user, out: tokenFile, side: 'cloud', scopes: 'imap' });
    const vault = await watchedVault(user, tokenFile);
    oauth.expireAccessTokens();
    const refreshes = oauth.stats.refreshes;
    await imapAppend(
      dovecot.account(user),
      rawMessage({ messageId: '<oauth-3@customer.test>', subject: 'Early expiry' }),
    );
    const running = runInBackground(vault.watcher());
    try {
      await waitFor('the message after a refresh', async () => (await emailItems(vault.dir)).length === 1);
    } finally {
      await running.stop();
    }
    expect(oauth.stats.refreshes).toBe(refreshes + 1);
  });

  test('a revoked refresh token stops intake with one clear line; a new login resumes it, nothing lost or taken twice', async () => {
    const user = freshUser();
    const tokenFile = join(dir, `${user}.json`);
    await signIn(oauth, { user, out: tokenFile, side: 'cloud', scopes: 'imap' });
    const vault = await watchedVault(user, tokenFile);
    const account = dovecot.account(user);
    await imapAppend(account, rawMessage({ messageId: '<rv-1@customer.test>', subject: 'Before revoke' }));
    const first = runInBackground(vault.watcher());
    await waitFor('the first message', async () => (await emailItems(vault.dir)).length === 1);
    // An open IMAP session outlives a revocation (as with real providers): the next connection is what
    // fails. The watcher process restarts; the owner has withdrawn consent meanwhile.
    await first.stop();
    oauth.revoke(user);
    const old = await readTokenFile(tokenFile);
    await writeFile(
      tokenFile,
      JSON.stringify({ ...old, expires_at: new Date(Date.now() - 1000).toISOString() }),
      {
        mode: 0o600,
      },
    );
    await imapAppend(account, rawMessage({ messageId: '<rv-2@customer.test>', subject: 'While revoked' }));
    await imapAppend(
      account,
      rawMessage({ messageId: '<rv-3@customer.test>', subject: 'Also while revoked' }),
    );
    const running = runInBackground(vault.watcher());
    try {
      await waitFor('the login-needed event', async () => vault.events.some((e) => e.startsWith('needed')));
      const line = vault.events.find((e) => e.startsWith('needed'))!;
      expect(line).toContain('run `fte mail login` again');
      // Let it retry a few times: still one log line, still nothing taken.
      await new Promise((r) => setTimeout(r, 1500));
      expect(vault.logged.filter((l) => l.includes('run `fte mail login` again'))).toHaveLength(1);
      expect(await loginNeeded(tokenFile)).toMatchObject({ user });
      expect(await emailItems(vault.dir)).toHaveLength(1);
      // A new login: the watcher picks the new file up on its next attempt.
      await signIn(oauth, { user, out: tokenFile, side: 'cloud', scopes: 'imap' });
      await waitFor('intake after the new login', async () => (await emailItems(vault.dir)).length === 3);
      expect(vault.events.at(-1)).toBe('restored');
      expect(await loginNeeded(tokenFile)).toBeUndefined();
    } finally {
      await running.stop();
    }
    // Exactly once: three messages, three items, no duplicates.
    expect(vault.outcomes.filter((o) => o.kind === 'created')).toHaveLength(3);
    expect(vault.outcomes.filter((o) => o.kind === 'duplicate')).toHaveLength(0);
    expect(await emailItems(vault.dir)).toHaveLength(3);
  });
});

describe('SMTP submission with an OAuth token (Postfix → Dovecot SASL)', () => {
  test('sending through submission works with a token (XOAUTH2); without one it is refused', async () => {
    const { SmtpTransport, SendFailure } = await import('../../executor/email.js');
    const user = freshUser();
    const tokenFile = join(dir, `${user}.json`);
    await signIn(oauth, { user, out: tokenFile, side: 'laptop', scopes: 'imap smtp' });
    const recipient = freshUser();
    const base = {
      host: '127.0.0.1',
      port: postfix!.submissionPort!,
      secure: false,
      from: `${user}@example.test`,
    };
    const mail = {
      from: `${user}@example.test`,
      to: `${recipient}@example.test`,
      subject: 'Sent with a token',
      text: 'Hello by XOAUTH2.\n',
      messageId: `<oauth-send-${Date.now()}@example.test>`,
    };
    const sent = await new SmtpTransport({ ...base, auth: { user, oauthTokenFile: tokenFile } }).send(mail);
    expect(sent.accepted).toEqual([`${recipient}@example.test`]);
    const got = await waitForMessages(dovecot.account(recipient), (m) => m.length === 1, {
      what: 'the sent message',
    });
    expect(got[0]!.source.toString()).toContain('Sent with a token');
    // Postfix authenticated it through Dovecot's SASL with XOAUTH2.
    expect(await postfix!.log()).toMatch(new RegExp(`sasl_method=XOAUTH2, sasl_username=${user}`));
    // Without authentication the submission port refuses the recipient.
    await expect(
      new SmtpTransport(base).send({ ...mail, messageId: '<x@example.test>' }),
    ).rejects.toBeInstanceOf(SendFailure);
  });

  test('an expired access token is refreshed for SMTP too; a revoked one is "not sent" with the clear line', async () => {
    const { SmtpTransport, SendFailure } = await import('../../executor/email.js');
    const user = freshUser();
    const tokenFile = join(dir, `${user}.json`);
    await signIn(oauth, { user, out: tokenFile, side: 'laptop', scopes: 'imap smtp' });
    const transport = new SmtpTransport({
      host: '127.0.0.1',
      port: postfix!.submissionPort!,
      secure: false,
      from: `${user}@example.test`,
      auth: { user, oauthTokenFile: tokenFile },
    });
    const mail = (n: number) => ({
      from: `${user}@example.test`,
      to: `${user}@example.test`,
      subject: `Refresh ${n}`,
      text: 'x\n',
      messageId: `<oauth-refresh-${n}-${Date.now()}@example.test>`,
    });
    oauth.expireAccessTokens(); // the server refuses the token; the file still says it is valid
    const refreshes = oauth.stats.refreshes;
    await transport.send(mail(1));
    expect(oauth.stats.refreshes).toBe(refreshes + 1);
    oauth.revoke(user);
    const failure = await transport.send(mail(2)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SendFailure);
    expect((failure as InstanceType<typeof SendFailure>).meaning).toBe('not_sent');
    expect((failure as Error).message).toContain('run `fte mail login` again');
    expect(JSON.parse(await readFile(`${tokenFile}.login-needed`, 'utf8'))).toMatchObject({ user });
  });
});

describe('the clear line reaches the owner: Dashboard.md, the status page, fte doctor', () => {
  test('the cloud’s revoked sign-in becomes a signal; Dashboard.md and the page’s alerts say it until intake resumes', async () => {
    const { ImapInboxWatcher } = await import('../../operator/watchers/imap.js');
    const { DashboardWriter } = await import('../../executor/dashboard.js');
    const { ReadModel } = await import('../../executor/ui/read-model.js');
    const { TaskFiles } = await import('../../executor/vault-files.js');
    const { AuditLog } = await import('../../core/audit.js');
    const user = freshUser();
    const tokenFile = join(dir, `${user}.json`);
    await signIn(oauth, { user, out: tokenFile, side: 'cloud', scopes: 'imap' });
    oauth.revoke(user);
    const old = await readTokenFile(tokenFile);
    await writeFile(
      tokenFile,
      JSON.stringify({ ...old, expires_at: new Date(Date.now() - 1000).toISOString() }),
      {
        mode: 0o600,
      },
    );
    const vaultDir = join(await mkdtemp(join(tmpdir(), 'fte-oauth-dash-')), 'vault');
    await initVault(vaultDir, { agent: 'cloud' });
    const repo = new VaultRepo({ root: vaultDir, agent: 'cloud' });
    const watcher = new ImapInboxWatcher(
      imapConfigFor(dovecot.account(user), { password: '', oauthTokenFile: tokenFile, pollMs: 300 }),
      { backoff: { initialMs: 100, maxMs: 400 } },
    );
    const abort = new AbortController();
    await watcher.start({
      vault: new LocalVaultPort(repo),
      agent: 'cloud',
      logger: pino({ level: 'silent' }),
      clock: () => new Date(),
      signal: abort.signal,
      notify: () => undefined,
    });
    const statePath = join(vaultDir, '..', 'dashboard.json');
    const dashboard = new DashboardWriter(
      new TaskFiles(vaultDir),
      'local',
      new AuditLog(vaultDir),
      () => new Date(),
      statePath,
      undefined,
      [],
    );
    const page = new ReadModel({
      root: vaultDir,
      agent: 'local',
      dashboardState: statePath,
      mailTokenFiles: [],
    });
    const dashboardText = () => readFile(join(vaultDir, 'Dashboard.md'), 'utf8');
    const stopLater: Array<() => Promise<void>> = [];
    try {
      await waitFor('the mail_login_needed signal', async () => {
        await dashboard.merge();
        return (await dashboardText()).includes('Mail sign-in needed');
      });
      const text = await dashboardText();
      expect(text).toContain(
        `**Mail sign-in needed**: \`cloud: mail sign-in for ${user} was revoked or has expired`,
      );
      expect(text).toContain("run 'fte mail login' again");
      const alerts = (await page.overview()).alerts.filter((a) => a.kind === 'mail_login');
      expect(alerts).toHaveLength(1);
      expect(alerts[0]!.message).toContain('run `fte mail login` again');
      // The operator restarts while signed out (a new watcher process), then the owner signs in again:
      // intake resumes, the new process still says so, the line goes.
      abort.abort();
      await watcher.stop();
      await signIn(oauth, { user, out: tokenFile, side: 'cloud', scopes: 'imap' });
      const restarted = new ImapInboxWatcher(
        imapConfigFor(dovecot.account(user), { password: '', oauthTokenFile: tokenFile, pollMs: 300 }),
        { backoff: { initialMs: 100, maxMs: 400 } },
      );
      const abort2 = new AbortController();
      await restarted.start({
        vault: new LocalVaultPort(repo),
        agent: 'cloud',
        logger: pino({ level: 'silent' }),
        clock: () => new Date(),
        signal: abort2.signal,
        notify: () => undefined,
      });
      stopLater.push(async () => {
        abort2.abort();
        await restarted.stop();
      });
      await waitFor('the mail_login_restored signal', async () => {
        await dashboard.merge();
        return !(await dashboardText()).includes('Mail sign-in needed');
      });
      expect((await page.overview()).alerts.filter((a) => a.kind === 'mail_login')).toHaveLength(0);
    } finally {
      abort.abort();
      await watcher.stop();
      for (const stop of stopLater) await stop();
    }
  });

  test('the laptop: fte doctor signs in to SMTP with the token; after a revocation it fails with the line, and the page alerts', async () => {
    const { runDoctor } = await import('../../executor/doctor.js');
    const { ReadModel } = await import('../../executor/ui/read-model.js');
    const user = freshUser();
    const tokenFile = join(dir, `${user}-laptop.json`);
    await signIn(oauth, { user, out: tokenFile, side: 'laptop', scopes: 'imap smtp' });
    const vaultDir = join(await mkdtemp(join(tmpdir(), 'fte-oauth-doc-')), 'vault');
    await initVault(vaultDir, { agent: 'local' });
    const env = {
      PATH: process.env.PATH,
      HOME: join(vaultDir, '..'),
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(postfix!.submissionPort),
      SMTP_SECURE: 'false',
      SMTP_FROM: `${user}@example.test`,
      SMTP_USER: user,
      SMTP_OAUTH_TOKEN_FILE: tokenFile,
    };
    const doctor = async () =>
      runDoctor({ vault: vaultDir, envFile: join(vaultDir, '..', 'none.env'), env, smtpTimeoutMs: 10_000 });
    const good = await doctor();
    expect(good.find((c) => c.name === 'smtp')).toMatchObject({ status: 'ok' });
    expect(good.find((c) => c.name === 'smtp')!.verdict).toContain(`logged in as ${user}`);
    expect(good.find((c) => c.name === 'mail sign-in')).toMatchObject({ status: 'ok' });
    // Revoked, and the access token runs out: the next use cannot refresh.
    oauth.revoke(user);
    const old = await readTokenFile(tokenFile);
    await writeFile(
      tokenFile,
      JSON.stringify({ ...old, expires_at: new Date(Date.now() - 1000).toISOString() }),
      {
        mode: 0o600,
      },
    );
    const bad = await doctor();
    const smtp = bad.find((c) => c.name === 'smtp')!;
    const signInCheck = bad.find((c) => c.name === 'mail sign-in')!;
    expect(smtp.status).toBe('fail');
    expect(signInCheck.status).toBe('fail');
    expect(signInCheck.verdict).toBe(
      `mail sign-in for ${user} was revoked or has expired (invalid_grant): run \`fte mail login\` again`,
    );
    for (const c of bad) {
      expect(c.verdict).not.toContain(old.access_token);
      expect(c.verdict).not.toContain(old.refresh_token!);
    }
    const alerts = (
      await new ReadModel({ root: vaultDir, agent: 'local', mailTokenFiles: [tokenFile] }).overview()
    ).alerts;
    expect(alerts.filter((a) => a.kind === 'mail_login').map((a) => a.message)).toEqual([
      `this machine: mail sign-in for ${user} was revoked or has expired (invalid_grant): run \`fte mail login\` again`,
    ]);
    // Signed in again: doctor is green, the alert is gone.
    await signIn(oauth, { user, out: tokenFile, side: 'laptop', scopes: 'imap smtp' });
    const again = await doctor();
    expect(again.find((c) => c.name === 'mail sign-in')).toMatchObject({ status: 'ok' });
    expect(again.find((c) => c.name === 'smtp')).toMatchObject({ status: 'ok' });
  });
});

describe('settings and the Sent copy', () => {
  test('IMAP_OAUTH_TOKEN_FILE and SMTP_OAUTH_TOKEN_FILE are validated in the existing config modules', async () => {
    const { loadImapConfig } = await import('../../core/imap-config.js');
    const { loadExecutorConfig } = await import('../../executor/config.js');
    const imap = { IMAP_HOST: 'imap.example.test', IMAP_USER: 'o@example.test' };
    expect(loadImapConfig({ ...imap, IMAP_OAUTH_TOKEN_FILE: '/t.json' })).toMatchObject({
      oauthTokenFile: '/t.json',
      password: '',
    });
    expect(() => loadImapConfig({ ...imap, IMAP_OAUTH_TOKEN_FILE: '/t.json', IMAP_PASSWORD: 'p' })).toThrow(
      /not both/,
    );
    expect(() => loadImapConfig(imap)).toThrow(/IMAP_OAUTH_TOKEN_FILE/);
    const smtp = {
      SMTP_HOST: 'smtp.example.test',
      SMTP_FROM: 'o@example.test',
      FTE_EXECUTOR_CONFIG: join(dir, 'none.json'),
    };
    expect(
      (await loadExecutorConfig({ ...smtp, SMTP_USER: 'o@example.test', SMTP_OAUTH_TOKEN_FILE: '/s.json' }))
        .smtp?.auth,
    ).toEqual({
      user: 'o@example.test',
      oauthTokenFile: '/s.json',
    });
    await expect(loadExecutorConfig({ ...smtp, SMTP_OAUTH_TOKEN_FILE: '/s.json' })).rejects.toThrow(
      /needs SMTP_USER/,
    );
    await expect(
      loadExecutorConfig({ ...smtp, SMTP_USER: 'u', SMTP_PASSWORD: 'p', SMTP_OAUTH_TOKEN_FILE: '/s.json' }),
    ).rejects.toThrow(/not both/);
  });

  test('the laptop’s Sent copy signs in to IMAP with the token', async () => {
    const { ImapSentCopy } = await import('../../executor/sent-copy.js');
    const user = freshUser();
    const tokenFile = join(dir, `${user}-sent.json`);
    await signIn(oauth, { user, out: tokenFile, side: 'laptop', scopes: 'imap smtp' });
    const copy = new ImapSentCopy(
      imapConfigFor(dovecot.account(user), { password: '', oauthTokenFile: tokenFile }),
    );
    const mail = {
      from: `${user}@example.test`,
      to: 'client@customer.test',
      subject: 'Filed by token',
      text: 'x\n',
      messageId: `<sent-oauth-${Date.now()}@example.test>`,
    };
    expect(await copy.file(mail, new Date())).toMatchObject({ kind: 'appended', mailbox: 'Sent' });
    expect(await copy.file(mail, new Date())).toMatchObject({ kind: 'present' });
  });
});

describe('fte operator --once (the built CLI) with IMAP_OAUTH_TOKEN_FILE', () => {
  test('takes in the inbox with a read-only token and logs no token; a missing token file exits 78', async () => {
    const { assertBuilt, cleanEnv, fte } = await import('../operator/process.js');
    const { existsSync } = await import('node:fs');
    const { taskIdForMessageId } = await import('../../operator/email/item.js');
    assertBuilt();
    const user = freshUser();
    const tokenFile = join(dir, `${user}-cli.json`);
    const token = await signIn(oauth, { user, out: tokenFile, side: 'cloud', scopes: 'imap' });
    const vault = join(await mkdtemp(join(tmpdir(), 'fte-oauth-once-')), 'cloud');
    await initVault(vault, { agent: 'cloud' });
    const account = dovecot.account(user);
    const messageId = '<cli-once-1@customer.test>';
    await imapAppend(account, rawMessage({ messageId, subject: 'Opening hours?' }));
    const env = cleanEnv({
      IMAP_HOST: account.host,
      IMAP_PORT: String(account.port),
      IMAP_SECURE: 'false',
      IMAP_USER: user,
      IMAP_OAUTH_TOKEN_FILE: tokenFile,
      FTE_LOG_LEVEL: 'debug',
    });
    const run = await fte(['operator', '--vault', vault, '--agent', 'cloud', '--once'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(join(vault, 'Pending_Approval', 'email', `${taskIdForMessageId(messageId)}.md`))).toBe(
      true,
    );
    expect(run.stderr + run.stdout).not.toContain(token.access_token);
    expect(run.stderr + run.stdout).not.toContain(token.refresh_token!);
    const missing = await fte(['operator', '--vault', vault, '--once'], {
      ...env,
      IMAP_OAUTH_TOKEN_FILE: join(dir, 'nope.json'),
    });
    expect(missing.code).toBe(78);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('run `fte mail login`');
  });
});
