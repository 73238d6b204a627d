import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { Git } from '../../core/git.js';
import { startOutbox } from '../../executor/outbox.js';
import { CliError } from '../errors.js';

/**
 * `make demo`: the Platinum scenario on one machine, with no keys and no cluster. A bare git remote, a
 * cloud clone and a local clone in a temp dir, the embedded operator, and a loopback SMTP outbox. Every
 * step runs the real `fte` CLI as a child process, so the demo exercises exactly what a user runs.
 */

const MAIN = resolve(import.meta.dirname, '..', 'main.js');
const OWNER = 'Owner <owner@example.com>';
const CLIENT = 'Dana Client <client@example.com>';
const ORIGINAL_ID = '<invoice-jan-2026@mail.example.com>';

const out = (line = '') => process.stdout.write(`${line}\n`);
const step = (n: number, total: number, text: string) => out(`\n[${n}/${total}] ${text}`);
const indent = (text: string, prefix = '    │ ') =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `${prefix}${l}`)
    .join('\n');

type Run = { code: number | null; stdout: string; stderr: string };

function fte(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Runs `fte <args>`, shows the command and its output, and stops the demo with its stderr if it fails. */
async function show(args: string[], env: NodeJS.ProcessEnv, root: string): Promise<Run> {
  const printable = args.map((a) => (a.startsWith(root) ? a.replace(root, '$DEMO') : a)).join(' ');
  out(`  $ fte ${printable}`);
  const run = await fte(args, env);
  if (run.stdout.trim()) out(indent(run.stdout));
  if (run.code !== 0) {
    throw new CliError(
      `demo step "fte ${printable}" failed (exit ${run.code}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
  return run;
}

/** The environment without send credentials, the approval key or an LLM key: what the cloud side gets. */
function cloudEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(SMTP_|FTE_|WHATSAPP_|DRY_RUN$|ANTHROPIC_)/.test(k) || /PASSWORD|SECRET|TOKEN/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, FTE_LOG_LEVEL: 'warn' };
}

async function operatorAvailable(): Promise<boolean> {
  const help = await fte(['--help'], cloudEnv());
  return /^\s+operator\b/m.test(help.stdout);
}

/** The item the cloud's IMAP watcher writes for a new message (the demo has no mailbox to watch). */
function incomingEmail(now: Date): { id: string; text: string } {
  const id = `EMAIL_${createHash('sha256').update(`message-id:${ORIGINAL_ID}`).digest('hex').slice(0, 20)}`;
  const text = stringifyMarkdown({
    data: {
      type: 'email',
      from: CLIENT,
      to: OWNER,
      subject: 'Invoice for January',
      received: now.toISOString(),
      message_id: ORIGINAL_ID,
      priority: 'high',
      status: 'pending',
    },
    body: '## Email Content\n~~~text\nHi,\n\nCould you send me the invoice for January? Our accounts close on Friday.\n\nThanks,\nDana\n~~~\n',
  });
  return { id, text };
}

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(heading);
  if (start < 0) return '';
  const next = markdown.indexOf('\n## ', start + heading.length);
  return markdown.slice(start, next < 0 ? undefined : next).trim();
}

export async function run(opts: { keep?: boolean; dir?: string }): Promise<void> {
  const started = Date.now();
  const root = opts.dir ? resolve(opts.dir) : await mkdtemp(join(tmpdir(), 'fte-demo-'));
  await mkdir(root, { recursive: true });
  if ((await readdir(root)).length > 0) throw new CliError(`--dir ${root} must be empty`);
  const remote = join(root, 'remote.git');
  const cloudDir = join(root, 'cloud');
  const localDir = join(root, 'local');
  const outbox = await startOutbox(join(root, 'outbox'));
  const TOTAL = 7;
  try {
    out('fte demo: the Platinum scenario, on this machine, with no keys and no cluster.');
    out(`Working in ${root}${opts.keep ? ' (kept afterwards)' : ' (removed afterwards; --keep keeps it)'}`);

    step(1, TOTAL, 'Set-up: a bare git remote, a cloud clone, a local clone and a loopback SMTP outbox.');
    await new Git(root).run(['init', '--quiet', '--bare', '--initial-branch=main', remote]);
    const cloud = cloudEnv();
    const local: NodeJS.ProcessEnv = {
      ...cloudEnv(),
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(outbox.port),
      SMTP_SECURE: 'false',
      SMTP_FROM: OWNER,
      DRY_RUN: 'false',
      FTE_APPROVAL_KEY_FILE: join(root, 'local-config', 'approval.key'),
      FTE_EXECUTOR_CONFIG: join(root, 'local-config', 'executor.json'),
      FTE_STATE_DIR: join(root, 'local-state'),
    };
    await show(['init', cloudDir, '--remote', remote, '--agent', 'cloud'], cloud, root);
    await show(['init', localDir, '--remote', remote, '--agent', 'local'], local, root);
    out(`    SMTP outbox listening on 127.0.0.1:${outbox.port}; messages are saved under $DEMO/outbox/`);
    out(
      '    The approval key will live in $DEMO/local-config/ (outside both vaults); the cloud never sees it,',
    );
    out('    nor any SMTP setting: its environment has no send credentials.');

    step(2, TOTAL, 'Local goes offline: the laptop is closed, its executor is not running.');

    const now = new Date();
    const email = incomingEmail(now);
    step(3, TOTAL, `An email arrives for the cloud: "Invoice for January" from ${CLIENT}.`);
    out(
      '    (the IMAP watcher turns it into an item; the demo has no mailbox, so it writes that item itself)',
    );
    await writeFile(join(cloudDir, 'Needs_Action', 'email', `${email.id}.md`), email.text);
    out(`    wrote Needs_Action/email/${email.id}.md in the cloud clone`);

    step(4, TOTAL, 'The cloud operator claims it, drafts a reply and writes the approval request.');
    if (!(await operatorAvailable())) throw new CliError('this build has no `fte operator`; run make build');
    await show(['operator', '--vault', cloudDir, '--agent', 'cloud', '--once'], cloud, root);
    const pendingPath = `Pending_Approval/email/${email.id}.md`;
    if (!existsSync(join(cloudDir, pendingPath))) throw new CliError(`the cloud wrote no ${pendingPath}`);

    step(5, TOTAL, 'Local comes back: the executor syncs and shows the pending approval.');
    await show(['executor', '--vault', localDir, '--once'], local, root);
    if (!existsSync(join(localDir, pendingPath)))
      throw new CliError(`${pendingPath} did not reach the local clone`);
    out('  Dashboard.md says:');
    out(indent(section(await readFile(join(localDir, 'Dashboard.md'), 'utf8'), '## Pending approvals')));
    await show(['status', '--vault', localDir], local, root);
    out('  The draft, as the owner sees it in Obsidian:');
    out(indent(await readFile(join(localDir, pendingPath), 'utf8')));

    step(
      6,
      TOTAL,
      'The owner edits the draft a little and approves it (signed with the local approval key).',
    );
    const draft = await readFile(join(localDir, pendingPath), 'utf8');
    const edited = draft.replace(/^\[fte template draft:[^\n]*\]\n\n/m, '');
    if (edited !== draft) {
      await writeFile(join(localDir, pendingPath), edited);
      out(
        '    (removed the template notice from the draft, as the owner would in Obsidian; the signature covers the edit)',
      );
    }
    await show(['approve', email.id, '--vault', localDir], local, root);

    step(
      7,
      TOTAL,
      'The executor sends it (at most once), writes the audit record and files the task in Done/.',
    );
    await show(['executor', '--vault', localDir, '--once'], local, root);
    await outbox.waitFor(1, 10_000);
    if (!existsSync(join(localDir, 'Done', `${email.id}.md`)))
      throw new CliError(`Done/${email.id}.md is missing`);

    out('\n=== The message the SMTP server accepted ($DEMO/outbox/001.eml) ===');
    out((await readFile(outbox.saved[0]!, 'utf8')).replace(/\r\n/g, '\n').trimEnd());

    out('\n=== Audit records (local clone, Logs/) ===');
    for (const file of (await readdir(join(localDir, 'Logs'))).filter((f) => f.endsWith('.json')).sort()) {
      for (const line of (await readFile(join(localDir, 'Logs', file), 'utf8')).split('\n').filter(Boolean))
        out(line);
    }

    out('\n=== Task history (git log of the vault) ===');
    out((await new Git(localDir).run(['log', '--format=%h %s'])).trimEnd());

    out('\n=== Final state ===');
    await show(['status', '--vault', localDir], local, root);
    await show(['sync', '--vault', cloudDir, '--agent', 'cloud', '--once'], cloud, root);
    out(
      `    the cloud clone now has Done/${email.id}.md too: ${existsSync(join(cloudDir, 'Done', `${email.id}.md`))}`,
    );
    out(`\nDemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  } finally {
    await outbox.close();
    if (!opts.keep) await rm(root, { recursive: true, force: true });
  }
}
