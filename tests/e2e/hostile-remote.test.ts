import { existsSync } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { approveTask, rejectTask } from '../../executor/decisions.js';
import { stableMessageId } from '../../executor/email.js';
import { openLocal } from '../../executor/setup.js';
import { type CliResult, localLedger, runCli, smtpEnv, smtpServer, testKey } from '../executor/helpers.js';
import { allObjects, type Edit, type HostileWorld, hostileWorld, snapshot } from './attacker.js';

type Snapshot = Awaited<ReturnType<typeof snapshot>>;

/**
 * The product's promise, end to end against the built CLI: assume the cloud is compromised. Whatever it
 * pushes to the shared remote (crafted with git plumbing, tests/e2e/attacker.ts), the laptop never reads
 * or leaks a file outside the vault, never executes what its owner did not sign, never executes anything
 * twice, never loosens a limit, never stops working, and what it shows (Dashboard.md, `fte status`) is
 * text. Complements tests/executor/hostile.test.ts (single executor attacks) and tests/core/safe-fs.test.ts.
 */

const KEY_HEX = 'ab'.repeat(32);
const today = () => new Date().toISOString().slice(0, 10);

type Smtp = Awaited<ReturnType<typeof smtpServer>>;

/** Everything that must never leave its place: canary, key, private notes, /etc/passwd. */
function secrets(hw: HostileWorld): string[] {
  return [hw.outside.canaryText, KEY_HEX, hw.outside.passwdLine, ...hw.outside.secrets];
}

const outsidePaths = (hw: HostileWorld) => [hw.outside.dir, join(hw.keyFile, '..')];

/** The world under attack now, so a failed command first checks that nothing leaked meanwhile. */
let current: { hw: HostileWorld; before: Snapshot } | undefined;

async function setup(hw: HostileWorld): Promise<Snapshot> {
  await testKey(hw.keyFile);
  const before = await snapshot(outsidePaths(hw));
  current = { hw, before };
  return before;
}

/** The laptop's own limit is generous here: the handbook tests check it is never loosened. */
const executor = (hw: HostileWorld, port: number) =>
  runCli(
    ['executor', '--vault', hw.local.dir, '--once'],
    smtpEnv(port, hw.keyFile, {
      FTE_EMAIL_RATE_PER_HOUR: '1000',
      ...(process.env.HOSTILE_DEBUG ? { FTE_TRACE_GIT: '1' } : {}),
    }),
  );
const approve = (hw: HostileWorld, id: string) =>
  runCli(['approve', id, '--vault', hw.local.dir], smtpEnv(1, hw.keyFile));
const status = (hw: HostileWorld, json = false) =>
  runCli(['status', '--vault', hw.local.dir, ...(json ? ['--json'] : [])], smtpEnv(1, hw.keyFile));

function ok(run: CliResult, what: string): void {
  expect(run.code, `${what} exit code\nstdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(0);
}

/** The laptop's state after an attack: nothing outside touched or leaked, the dashboard is its own file. */
async function expectNothingLeaked(
  hw: HostileWorld,
  before: Awaited<ReturnType<typeof snapshot>>,
  outputs: CliResult[] = [],
): Promise<void> {
  expect(await snapshot(outsidePaths(hw)), 'files outside the vault changed').toEqual(before);
  const objects = await allObjects(hw.remote);
  const dashboardPath = join(hw.local.dir, 'Dashboard.md');
  const dashboard = (await lstat(dashboardPath)).isFile() ? await readFile(dashboardPath, 'utf8') : '';
  expect((await lstat(dashboardPath)).isFile(), 'Dashboard.md is a regular file').toBe(true);
  for (const secret of secrets(hw)) {
    expect(objects.includes(secret), `"${secret.slice(0, 24)}…" reached the remote`).toBe(false);
    expect(dashboard.includes(secret), `"${secret.slice(0, 24)}…" in Dashboard.md`).toBe(false);
    for (const out of outputs) {
      const printed = `${out.stdout}${out.stderr}`.includes(secret);
      expect(printed, `"${secret.slice(0, 24)}…" printed by ${labels.get(out) ?? 'a command'}`).toBe(false);
    }
  }
}

/** Messages the SMTP server got for task `id` (the Message-ID is fixed per task). */
const messagesFor = (smtp: Smtp, id: string) =>
  smtp.received.filter((m) => m.parsed.messageId === stableMessageId(id, 'owner@example.com'));

/** `fte approve` in-process (the same code the command runs), for steps that are setup, not the attack. */
async function approveInProcess(hw: HostileWorld, id: string): Promise<void> {
  const local = await openLocal(hw.local.dir, 'local', smtpEnv(1, hw.keyFile));
  await approveTask(local.ctx, local.key, id, 'cli');
}

/** Legit drafts, pulled by the laptop's git owner before the attack (setup, not under test). */
async function legitDrafts(hw: HostileWorld, ids: string[], domain = 'email'): Promise<void> {
  for (const id of ids) await hw.attacker.draft(id, { domain });
  const report = await hw.local.repo.sync();
  if (report.state !== 'synced') throw new Error(`local sync: ${report.error}`);
}

/** What each kept CLI run was, for failure messages. */
const labels = new WeakMap<CliResult, string>();
/** The last `fte executor` output, shown when a send is missing. */
let lastPass = '';

/** A CLI run that must succeed; kept for the leak checks. */
async function must(outputs: CliResult[], what: string, run: Promise<CliResult>): Promise<CliResult> {
  const r = await run;
  labels.set(r, what);
  if (what.startsWith('fte executor')) lastPass = `${r.stderr.slice(-1500)}\n${r.stdout.slice(-1500)}`;
  outputs.push(r);
  if (r.code !== 0 && current) {
    // A crashed laptop may have written or pushed something on its way down: that is the worse failure.
    await expectNothingLeaked(current.hw, current.before, outputs);
  }
  ok(r, what);
  return r;
}

function expectSentOnce(smtp: Smtp, ...ids: string[]): void {
  for (const id of ids)
    expect(messagesFor(smtp, id), `${id} sent exactly once; last pass said:\n${lastPass}`).toHaveLength(1);
  for (const m of smtp.received)
    expect(m.envelopeTo, 'only signed recipients').toEqual(['client@example.com']);
}

// ---------------------------------------------------------------------------------------------------------
// 1. Symlinks at every folder and depth

type Target = 'canary' | 'key' | 'passwd' | 'notes' | 'relative';
const TARGETS: Target[] = ['canary', 'key', 'passwd', 'notes', 'relative'];

function targetOf(hw: HostileWorld, target: Target | 'folder' | 'keys', depth: number): string {
  switch (target) {
    case 'canary':
      return hw.outside.canary;
    case 'key':
      return hw.keyFile;
    case 'passwd':
      return '/etc/passwd';
    case 'notes':
      return join(hw.outside.notes, 'plan.md');
    case 'relative':
      return `${'../'.repeat(depth + 1)}outside/canary.txt`;
    case 'folder':
      return hw.outside.notes;
    case 'keys':
      return join(hw.keyFile, '..');
  }
}

const depthOf = (path: string) => path.split('/').length - 1;

/** Placements named after a task id: one link per target, all in one commit. */
const PER_ID: Array<[string, (id: string) => string]> = [
  ['Approved/<id>.md', (id) => `Approved/${id}.md`],
  ['Rejected/<id>.md', (id) => `Rejected/${id}.md`],
  ['Done/<id>.md', (id) => `Done/${id}.md`],
  ['Done/<id>.item.md', (id) => `Done/${id}.item.md`],
  ['In_Progress/local/<id>.md', (id) => `In_Progress/local/${id}.md`],
  ['In_Progress/cloud/<id>.md', (id) => `In_Progress/cloud/${id}.md`],
  ['Pending_Approval/email/<id>.md', (id) => `Pending_Approval/email/${id}.md`],
  ['Needs_Action/email/<id>.md', (id) => `Needs_Action/email/${id}.md`],
  ['Updates/<x>.md', (id) => `Updates/20260101T000000Z_cloud_info_${id}.md`],
];

/** Single files of the vault: a link to one target each. */
const SINGLE: Array<[string, () => string, Target]> = [
  ['Dashboard.md', () => 'Dashboard.md', 'canary'],
  ['Company_Handbook.md', () => 'Company_Handbook.md', 'notes'],
  ['Logs/<today>.json', () => `Logs/${today()}.json`, 'key'],
];

const FOLDERS_LINKED: Array<[string, 'folder' | 'keys']> = [
  ['Approved', 'keys'],
  ['Done', 'folder'],
  ['Rejected', 'folder'],
  ['Updates', 'folder'],
  ['Logs', 'folder'],
  ['In_Progress/local', 'folder'],
  ['Pending_Approval/email', 'folder'],
];

type Variant = [string, string, (hw: HostileWorld) => Edit[]];
const LINK_VARIANTS: Variant[] = [
  ...PER_ID.map(
    ([name, at]): Variant => [
      name,
      TARGETS.join(', '),
      (w) =>
        TARGETS.map((t) => {
          const path = at(`EVIL_${t.toUpperCase()}`);
          return { path, symlink: targetOf(w, t, depthOf(path)) };
        }),
    ],
  ),
  ...SINGLE.map(
    ([name, at, t]): Variant => [name, t, (w) => [{ path: at(), symlink: targetOf(w, t, depthOf(at())) }]],
  ),
];

describe('1. symlinks planted by the remote', () => {
  describe('files named after a task, and single vault files (one world, the links pile up)', () => {
    let hw: HostileWorld;
    let before: Snapshot;
    const sent: string[] = [];
    const outputs: CliResult[] = [];
    beforeAll(async () => {
      hw = await hostileWorld();
      before = await setup(hw);
      // This world sends more than the starter handbook's hourly limit (which may only lower the laptop's).
      await hw.attacker.commit('cloud: handbook', [{ path: 'Company_Handbook.md', content: '# Handbook\n' }]);
    });
    afterAll(async () => hw?.dispose());

    let n = 0;
    it.each(LINK_VARIANTS)('%s → %s', async (_name, _targets, edits) => {
      const smtp = await smtpServer();
      const id = `EMAIL_S${++n}`;
      await legitDrafts(hw, [id]);
      await hw.attacker.commit('cloud: tidy', edits(hw));
      // Approved before the attack is pulled (the approval commit is rebased onto the hostile commit),
      // with the earlier variants' links already in the working tree.
      await must(outputs, `fte approve ${id}`, approve(hw, id));
      await must(outputs, 'fte executor --once', executor(hw, smtp.port));
      await must(outputs, 'fte status', status(hw));
      expectSentOnce(smtp, id);
      for (const m of smtp.received) {
        expect(sent, 'a task sent twice').not.toContain(m.parsed.messageId);
        sent.push(m.parsed.messageId!);
      }
      await expectNothingLeaked(hw, before, outputs);
    });

    it('with every link in place: another pass, status --json, a last approval: nothing resent or leaked', async () => {
      const smtp = await smtpServer();
      await legitDrafts(hw, ['EMAIL_SLAST']);
      await must(outputs, 'fte approve', approve(hw, 'EMAIL_SLAST'));
      await must(outputs, 'fte executor --once', executor(hw, smtp.port));
      await must(outputs, 'fte status --json', status(hw, true));
      expect(smtp.received.map((m) => m.parsed.messageId)).toEqual([
        stableMessageId('EMAIL_SLAST', 'owner@example.com'),
      ]);
      await expectNothingLeaked(hw, before, outputs);
    });
  });

  describe('folders replaced by a link (a world each)', () => {
    it.each(FOLDERS_LINKED)(
      '%s → %s outside the vault',
      async (folder, target) => {
        const hw = await hostileWorld();
        try {
          const before = await setup(hw);
          const smtp = await smtpServer();
          const outputs: CliResult[] = [];
          // The request folder itself is attacked in one variant: the legit drafts live in another domain.
          await legitDrafts(
            hw,
            ['EMAIL_FA', 'EMAIL_FB'],
            folder === 'Pending_Approval/email' ? 'accounting' : 'email',
          );
          await hw.attacker.commit('cloud: tidy', [{ path: folder, symlink: targetOf(hw, target, 0) }]);
          await approveInProcess(hw, 'EMAIL_FA');
          await must(outputs, 'fte executor --once (pulls the attack)', executor(hw, smtp.port));
          await must(outputs, 'fte approve (the attack in the tree)', approve(hw, 'EMAIL_FB'));
          await must(outputs, 'fte executor --once', executor(hw, smtp.port));
          await must(outputs, 'fte status --json', status(hw, true));
          expectSentOnce(smtp, 'EMAIL_FA', 'EMAIL_FB');
          expect(smtp.received).toHaveLength(2);
          await expectNothingLeaked(hw, before, outputs);
        } finally {
          await hw.dispose();
        }
      },
      180_000,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// 2. Paths git would refuse, or that are dangerous

type PathAttack = {
  name: string;
  /** The laptop must refuse the remote (and say so in `fte status`). */
  refused: boolean;
  edits: (hw: HostileWorld, marker: string) => Promise<Edit[]> | Edit[];
};

const hook = (marker: string) => `#!/bin/sh\ntouch '${marker}'\n`;
const gitConfig = (marker: string) =>
  `[core]\n\tfsmonitor = touch '${marker}'\n\thooksPath = hooks\n[filter "evil"]\n\tsmudge = touch '${marker}'\n`;

const PATH_ATTACKS: PathAttack[] = [
  { name: '.git/config', refused: true, edits: (_w, m) => [{ path: '.git/config', content: gitConfig(m) }] },
  {
    name: '.GIT/hooks/post-checkout',
    refused: true,
    edits: async (w, m) => [
      { path: '.GIT/hooks/post-checkout', blob: await w.attacker.blob(hook(m)), mode: '100755' },
    ],
  },
  {
    name: 'Needs_Action/email/.git/config (nested)',
    refused: true,
    edits: (_w, m) => [{ path: 'Needs_Action/email/.git/config', content: gitConfig(m) }],
  },
  {
    name: '".git " (trailing space)',
    refused: true,
    edits: async (w, m) => [
      { path: '.git /hooks/post-checkout', blob: await w.attacker.blob(hook(m)), mode: '100755' },
    ],
  },
  {
    name: '".git." (trailing dot)',
    refused: true,
    edits: (_w, m) => [{ path: '.git./config', content: gitConfig(m) }],
  },
  {
    name: 'git~1 (8.3 short name)',
    refused: true,
    edits: (_w, m) => [{ path: 'git~1/config', content: gitConfig(m) }],
  },
  {
    name: '.. component (mktree)',
    refused: true,
    edits: (_w) => [{ path: '../outside/escaped.md', content: 'written outside the vault\n' }],
  },
  {
    name: 'gitlink (mode 160000)',
    refused: true,
    edits: () => [{ path: 'Approved/SUB', gitlink: 'a'.repeat(40) }],
  },
  {
    name: '.gitmodules with a file:// URL and an update command',
    refused: true,
    edits: (w, m) => [
      {
        path: '.gitmodules',
        content: `[submodule "vendor"]\n\tpath = vendor\n\turl = file://${w.outside.dir}\n\tupdate = !touch '${m}'\n`,
      },
      { path: 'vendor', gitlink: 'b'.repeat(40) },
    ],
  },
  {
    name: '.gitattributes with filter= and merge= drivers (no config)',
    refused: false,
    edits: () => [
      {
        path: '.gitattributes',
        content: '* filter=evil\n*.md merge=evil diff=evil\nLogs/*.json merge=evil\n',
      },
    ],
  },
  {
    name: '.gitattributes with eol=crlf',
    refused: false,
    edits: () => [{ path: '.gitattributes', content: '* text eol=crlf\nLogs/*.json merge=union\n' }],
  },
  {
    name: 'a 30 MB file',
    refused: true,
    edits: () => [{ path: 'Inbox/huge.bin', content: Buffer.alloc(30 * 1024 * 1024, 'x') }],
  },
  {
    // Within the documented limit (core/git/remote-check.ts: 100 000 files): taken, and the laptop goes on.
    name: '20 000 files',
    refused: false,
    edits: async (w) => {
      const blob = await w.attacker.blob('---\ntype: email\n---\nspam\n');
      return Array.from({ length: 20_000 }, (_, i) => ({ path: `Inbox/flood/f${i}.md`, blob }));
    },
  },
];

describe('2. paths git would refuse or that are dangerous', () => {
  it.each(PATH_ATTACKS.map((a) => [a.name, a] as const))(
    '%s',
    async (_name, attack) => {
      const hw = await hostileWorld();
      try {
        const before = await setup(hw);
        const smtp = await smtpServer();
        const outputs: CliResult[] = [];
        const marker = join(hw.root, 'pwned');
        await legitDrafts(hw, ['EMAIL_P1']);
        await hw.attacker.commit('cloud: tidy', await attack.edits(hw, marker));
        // The owner approves after the hostile commit is on the remote; the laptop carries it out.
        await approveInProcess(hw, 'EMAIL_P1');
        await must(outputs, 'fte executor --once', executor(hw, smtp.port));
        const st = await must(outputs, 'fte status', status(hw));
        expectSentOnce(smtp, 'EMAIL_P1');
        expect(smtp.received).toHaveLength(1);
        expect(existsSync(marker), 'something the remote wrote was executed').toBe(false);
        expect(existsSync(join(hw.outside.dir, 'escaped.md'))).toBe(false);
        if (attack.refused) expect(st.stdout + st.stderr).toMatch(/remote refused/i);
        await expectNothingLeaked(hw, before, outputs);
      } finally {
        await hw.dispose();
      }
    },
    180_000,
  );

  it('after a refused remote is rewritten (force-push), the laptop syncs again and keeps every send single', async () => {
    const hw = await hostileWorld();
    try {
      const before = await setup(hw);
      const smtp = await smtpServer();
      const outputs: CliResult[] = [];
      await legitDrafts(hw, ['EMAIL_R1']);
      const clean = await hw.attacker.head();
      await hw.attacker.commit('cloud: tidy', [
        { path: '.git/config', content: gitConfig(join(hw.root, 'pwned')) },
      ]);
      await approveInProcess(hw, 'EMAIL_R1');
      await must(outputs, 'fte executor --once (refused remote)', executor(hw, smtp.port));
      // The cloud's history without the hostile commit, plus a new draft.
      await hw.attacker.push(clean, true);
      await hw.attacker.draft('EMAIL_R2');
      await must(outputs, 'fte executor --once (rewritten remote)', executor(hw, smtp.port));
      await must(outputs, 'fte approve', approve(hw, 'EMAIL_R2'));
      await must(outputs, 'fte executor --once', executor(hw, smtp.port));
      expectSentOnce(smtp, 'EMAIL_R1', 'EMAIL_R2');
      expect(smtp.received).toHaveLength(2);
      // The laptop's own commits made it to the remote: the owner's decisions are not lost.
      const paths = await hw.attacker.paths();
      expect(paths).toEqual(expect.arrayContaining(['Done/EMAIL_R1.md', 'Done/EMAIL_R2.md']));
      expect(paths.some((p) => p.toLowerCase().startsWith('.git/'))).toBe(false);
      await expectNothingLeaked(hw, before, outputs);
    } finally {
      await hw.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// 3. Replay of every earlier approval state

const STATUSES = ['pending', 'approved', 'refused', 'uncertain', 'failed', 'executed', 'rejected', 'expired'];

function withFields(text: string, fields: Record<string, string>): string {
  let out = text;
  for (const [k, v] of Object.entries(fields)) {
    const line = new RegExp(`^${k}: .*$`, 'm');
    out = line.test(out) ? out.replace(line, `${k}: ${v}`) : out.replace(/^---\n/, `---\n${k}: ${v}\n`);
  }
  return out;
}

describe('3. replays of earlier approval states (one world)', () => {
  let hw: HostileWorld;
  let before: Snapshot;
  const outputs: CliResult[] = [];
  /** Every version of each task's approval the remote's history holds. */
  const versions: Record<string, { pending: string; signed: string; done?: string; item: string }> = {};
  let smtpAll: Smtp['received'] = [];
  beforeAll(async () => {
    hw = await hostileWorld();
    before = await setup(hw);
    const smtp = await smtpServer();
    // T1..T3 are sent; R is approved, then rejected by the owner; E is approved, then expires unsent.
    // E's window is long enough to approve it on a loaded machine; the other tasks' setup runs meanwhile.
    const expiresAt = Date.now() + 15_000;
    await hw.attacker.draft('EMAIL_E', { expires: new Date(expiresAt) });
    await legitDrafts(hw, []);
    await approveInProcess(hw, 'EMAIL_E');
    await legitDrafts(hw, ['EMAIL_T1', 'EMAIL_T2', 'EMAIL_T3', 'EMAIL_R']);
    for (const id of ['EMAIL_T1', 'EMAIL_T2', 'EMAIL_T3', 'EMAIL_R']) await approveInProcess(hw, id);
    // The signed approvals reach the remote (so its history holds them), then the owner rejects R.
    await hw.local.repo.commit('local: approve');
    if ((await hw.local.repo.sync()).state !== 'synced') throw new Error('local sync');
    const local = await openLocal(hw.local.dir, 'local', smtpEnv(1, hw.keyFile));
    await rejectTask(local.ctx, 'EMAIL_R', 'changed my mind', 'cli');
    while (Date.now() < expiresAt + 200) await new Promise((r) => setTimeout(r, 100));
    await must(outputs, 'fte executor --once (sends T1..T3, E expired)', executor(hw, smtp.port));
    expectSentOnce(smtp, 'EMAIL_T1', 'EMAIL_T2', 'EMAIL_T3');
    expect(smtp.received).toHaveLength(3);
    smtpAll = [...smtp.received];
    for (const id of ['EMAIL_T1', 'EMAIL_T2', 'EMAIL_T3', 'EMAIL_R', 'EMAIL_E']) {
      const pending = (await hw.attacker.history(`Pending_Approval/email/${id}.md`))[0]!.content;
      const signed = (await hw.attacker.history(`Approved/${id}.md`)).find((v) =>
        /approval_signature:/.test(v.content),
      )!.content;
      const done = (await hw.attacker.history(`Done/${id}.md`)).at(-1)?.content;
      const item = (await hw.attacker.history(`In_Progress/cloud/${id}.md`))[0]!.content;
      versions[id] = { pending, signed, done, item };
    }
  }, 120_000);
  afterAll(async () => hw?.dispose());

  /** Puts each task back as it was before its decision, with `Approved/<id>.md` = the given text. */
  async function replay(message: string, files: Record<string, string>): Promise<void> {
    const edits: Edit[] = [];
    for (const [id, text] of Object.entries(files)) {
      edits.push(
        { path: `Approved/${id}.md`, content: text },
        { path: `In_Progress/cloud/${id}.md`, content: versions[id]!.item },
        { path: `Done/${id}.md`, delete: true },
        { path: `Done/${id}.item.md`, delete: true },
        { path: `Rejected/${id}.md`, delete: true },
        { path: `Rejected/${id}.item.md`, delete: true },
      );
    }
    await hw.attacker.commit(message, edits);
  }

  async function laptopPass(): Promise<Smtp> {
    const smtp = await smtpServer();
    await must(outputs, 'fte executor --once', executor(hw, smtp.port));
    return smtp;
  }

  it.each(STATUSES)(
    'each earlier version restored into Approved/ with status: %s → never sent again',
    async (status) => {
      await replay(`local: approve (replay ${status})`, {
        EMAIL_T1: withFields(versions.EMAIL_T1!.pending, { status }),
        EMAIL_T2: withFields(versions.EMAIL_T2!.signed, { status }),
        EMAIL_T3: withFields(versions.EMAIL_T3!.done!, { status }),
        EMAIL_R: withFields(versions.EMAIL_R!.signed, { status }),
        EMAIL_E: withFields(versions.EMAIL_E!.signed, { status }),
      });
      const smtp = await laptopPass();
      expect(smtp.received, 'a replay was sent').toEqual([]);
      expect(smtp.connections()).toBe(0);
    },
  );

  it('a signed approval with a changed to: (old signature) → never sent, nobody unsigned gets mail', async () => {
    await replay('local: approve (new recipient)', {
      EMAIL_T2: withFields(versions.EMAIL_T2!.signed, { status: 'approved', to: 'attacker@evil.test' }),
      EMAIL_R: withFields(versions.EMAIL_R!.signed, { status: 'approved', to: 'attacker@evil.test' }),
      EMAIL_E: withFields(versions.EMAIL_E!.signed, { status: 'approved', to: 'attacker@evil.test' }),
    });
    const smtp = await laptopPass();
    expect(smtp.received).toEqual([]);
  });

  it('a signed approval whose expires was extended → never sent', async () => {
    const later = new Date(Date.now() + 365 * 86_400_000).toISOString();
    await replay('local: approve (extended)', {
      EMAIL_T2: withFields(versions.EMAIL_T2!.signed, { status: 'approved', expires: `'${later}'` }),
      EMAIL_R: withFields(versions.EMAIL_R!.signed, { status: 'approved', expires: `'${later}'` }),
      EMAIL_E: withFields(versions.EMAIL_E!.signed, { status: 'approved', expires: `'${later}'` }),
    });
    const smtp = await laptopPass();
    expect(smtp.received).toEqual([]);
  });

  it('after all replays: the ledger still holds exactly one send per task, and nothing leaked', async () => {
    const smtp = await laptopPass();
    expect(smtp.received).toEqual([]);
    const ledger = await localLedger(hw);
    for (const id of ['EMAIL_T1', 'EMAIL_T2', 'EMAIL_T3']) {
      const sends = (await ledger.forTask(id)).filter((r) => r.kind === 'outcome' && r.outcome === 'sent');
      expect(sends, id).toHaveLength(1);
    }
    for (const id of ['EMAIL_R', 'EMAIL_E'])
      expect(
        (await ledger.forTask(id)).some((r) => r.kind === 'intent'),
        id,
      ).toBe(false);
    expect(smtpAll).toHaveLength(3);
    await expectNothingLeaked(hw, before, outputs);
  });
});

// ---------------------------------------------------------------------------------------------------------
// 4. Ignored files added by force

describe('4. ignored files force-added, then modified, then deleted (one world)', () => {
  let hw: HostileWorld;
  let before: Snapshot;
  let evil: Smtp;
  let sentKey = '';
  let doneText = '';
  const outputs: CliResult[] = [];
  beforeAll(async () => {
    hw = await hostileWorld();
    before = await setup(hw);
    const smtp = await smtpServer();
    await legitDrafts(hw, ['EMAIL_I0']);
    await approveInProcess(hw, 'EMAIL_I0');
    await must(outputs, 'fte executor --once', executor(hw, smtp.port));
    expectSentOnce(smtp, 'EMAIL_I0');
    doneText = (await hw.attacker.show(await hw.attacker.head(), 'Done/EMAIL_I0.md'))!;
    sentKey = /^idempotency_key: (.*)$/m.exec(doneText)![1]!.trim();
  }, 120_000);
  afterAll(async () => {
    await evil?.close();
    await hw?.dispose();
  });

  const forged = (stage: string) => ({
    ledger: `${JSON.stringify({ ts: new Date().toISOString(), key: sentKey, task: 'EMAIL_I0', action: 'send_email', kind: 'resolution', outcome: 'not_sent' })}\n`,
    lock: `${process.pid}\n`,
    env: `SMTP_HOST=127.0.0.1\nSMTP_PORT=${evil.port}\nSMTP_FROM=attacker@evil.test\nFTE_EMAIL_RATE_PER_HOUR=100000\nDRY_RUN=0\nFTE_APPROVAL_KEY_FILE=/tmp/evil-${stage}.key\nFTE_STATE_DIR=/tmp/evil-state-${stage}\n`,
    workspace: JSON.stringify({ main: { type: 'split', stage }, lastOpenFiles: ['Approved/EMAIL_I0.md'] }),
  });

  it.each(['added', 'modified', 'deleted'])(
    '%s, with the sent task replayed: no resend, no crash, no secret read',
    async (stage) => {
      evil ??= await (async () => {
        const { SMTPServer } = await import('smtp-server');
        let connections = 0;
        const server = new SMTPServer({
          authOptional: true,
          disabledCommands: ['STARTTLS', 'AUTH'],
          logger: false,
          onConnect(_s, cb) {
            connections++;
            cb();
          },
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const port = (server.server.address() as AddressInfo).port;
        return {
          port,
          connections: () => connections,
          close: () => new Promise<void>((r) => server.close(() => r())),
        } as unknown as Smtp;
      })();
      const smtp = await smtpServer();
      const id = `EMAIL_I_${stage}`;
      await legitDrafts(hw, [id]);
      await approveInProcess(hw, id);
      const f = forged(stage);
      const files: Edit[] =
        stage === 'deleted'
          ? ['.fte/ledger.jsonl', '.fte/executor.lock', '.env', '.obsidian/workspace.json'].map((path) => ({
              path,
              delete: true as const,
            }))
          : [
              { path: '.fte/ledger.jsonl', content: f.ledger },
              { path: '.fte/executor.lock', content: f.lock },
              { path: '.env', content: f.env },
              { path: '.obsidian/workspace.json', content: f.workspace },
            ];
      await hw.attacker.commit(`local: approve EMAIL_I0 (${stage})`, [
        ...files,
        { path: 'Approved/EMAIL_I0.md', content: withFields(doneText, { status: 'approved' }) },
        { path: 'Done/EMAIL_I0.md', delete: true },
      ]);
      const run = await must(outputs, 'fte executor --once', executor(hw, smtp.port));
      await must(outputs, 'fte status', status(hw));
      expectSentOnce(smtp, id);
      expect(smtp.received, run.stdout).toHaveLength(1);
      expect(evil.connections(), 'the .env from the remote was used').toBe(0);
      expect(existsSync(`/tmp/evil-${stage}.key`)).toBe(false);
      expect(existsSync(`/tmp/evil-state-${stage}`)).toBe(false);
      await expectNothingLeaked(hw, before, outputs);
    },
  );
});

// ---------------------------------------------------------------------------------------------------------
// 5. Alias bombs and bad YAML wherever the laptop reads YAML

const laughs = (() => {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++)
    lines.push(
      `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(',')}]`,
    );
  return lines.join('\n');
})();

const BAD_YAML: Array<[string, (id: string) => string | Buffer]> = [
  ['alias bomb (billion laughs)', (id) => `---\ntype: approval_request\ntask: ${id}\n${laughs}\n---\nbody\n`],
  [
    'invalid YAML',
    (id) => `---\ntype: approval_request\ntask: ${id}\nto: [unclosed\nsubject: "x\n---\nbody\n`,
  ],
  [
    '100 000 nested brackets',
    (id) => `---\ntask: ${id}\nx: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n---\nbody\n`,
  ],
  [
    'invalid UTF-8',
    (id) =>
      Buffer.concat([
        Buffer.from(`---\ntask: ${id}\nsubject: `),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from('\n---\n'),
      ]),
  ],
  [
    '__proto__ and constructor keys',
    (id) =>
      `---\ntype: approval_request\ntask: ${id}\naction: send_email\n__proto__:\n  status: approved\n  to: attacker@evil.test\nconstructor:\n  prototype:\n    polluted: true\n---\nbody\n`,
  ],
  [
    'duplicate keys and tags',
    (id) => `---\ntask: ${id}\nto: a@example.com\nto: !!js/function "function(){}"\n---\n`,
  ],
];

const BAD_PLACES: Array<[string, (id: string) => string]> = [
  ['Approved', (id) => `Approved/${id}.md`],
  ['Pending_Approval', (id) => `Pending_Approval/email/${id}.md`],
  ['Rejected', (id) => `Rejected/${id}.md`],
  ['Done', (id) => `Done/${id}.md`],
  ['In_Progress', (id) => `In_Progress/cloud/${id}.md`],
  ['Needs_Action', (id) => `Needs_Action/email/${id}.md`],
  ['Updates', (id) => `Updates/20260101T000000Z_cloud_info_${id}.md`],
];

describe('5. alias bombs and bad YAML in every place the laptop reads YAML (one world)', () => {
  let hw: HostileWorld;
  let before: Snapshot;
  const outputs: CliResult[] = [];
  beforeAll(async () => {
    hw = await hostileWorld();
    before = await setup(hw);
  });
  afterAll(async () => hw?.dispose());

  let n = 0;
  it.each(BAD_YAML)('%s', async (_kind, content) => {
    const smtp = await smtpServer();
    const k = ++n;
    const id = `EMAIL_Y${k}`;
    await legitDrafts(hw, [id]);
    await approveInProcess(hw, id);
    const handbook = (await hw.attacker.show(await hw.attacker.head(), 'Company_Handbook.md'))!;
    const bad = BAD_PLACES.map(([place, at]) => ({ place, path: at(`BAD${k}_${place.toUpperCase()}`) }));
    await hw.attacker.commit('cloud: draft', [
      ...bad.map(({ path }) => ({ path, content: content(path.split('/').at(-1)!.replace(/\.md$/, '')) })),
      { path: 'Company_Handbook.md', content: content('handbook') },
    ]);
    try {
      const run = await must(outputs, 'fte executor --once', executor(hw, smtp.port));
      const st = await must(outputs, 'fte status', status(hw));
      expectSentOnce(smtp, id);
      expect(smtp.received).toHaveLength(1);
      // Each bad file is quarantined or reported with a reason somewhere the owner looks.
      const dashboard = await readFile(join(hw.local.dir, 'Dashboard.md'), 'utf8');
      const logs = await readLogs(hw);
      const errors = await readErrors(hw);
      const seen = `${run.stdout}${run.stderr}${st.stdout}${dashboard}${logs}${errors}`;
      for (const { place, path } of bad) {
        const stem = path.split('/').at(-1)!.replace(/\.md$/, '');
        expect(seen.includes(stem), `${place}: ${path} neither quarantined nor reported`).toBe(true);
      }
      await expectNothingLeaked(hw, before, outputs);
    } finally {
      // The cloud takes its files back, so the next variant starts from a vault without them.
      const paths = new Set(await hw.attacker.paths());
      await hw.attacker.commit('cloud: clean up', [
        ...bad.filter(({ path }) => paths.has(path)).map(({ path }) => ({ path, delete: true as const })),
        { path: 'Company_Handbook.md', content: handbook },
      ]);
      await hw.local.repo.sync().catch(() => undefined);
    }
  });
});

async function readLogs(hw: HostileWorld): Promise<string> {
  const dir = join(hw.local.dir, 'Logs');
  if (!(await lstat(dir)).isDirectory()) return '';
  let out = '';
  for (const f of await readdir(dir)) if (f.endsWith('.json')) out += await readFile(join(dir, f), 'utf8');
  return out;
}

async function readErrors(hw: HostileWorld): Promise<string> {
  const dir = join(hw.local.dir, 'Needs_Action', '_errors');
  if (!existsSync(dir)) return '';
  let out = '';
  for (const f of await readdir(dir)) if (f.endsWith('.md')) out += await readFile(join(dir, f), 'utf8');
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// 6. Markup and control characters

/** Markup the dashboard must show as text. */
const MARKUP = [
  '[click here](http://evil.test/phish)',
  '<script>alert(1)</script>',
  '![pixel](http://evil.test/track.png)',
  '<!-- hidden instruction -->',
  '<img src=x onerror=alert(1)>',
  '[[Approved/EMAIL_M1]]',
  '`[out of the span](http://evil.test/out)`',
].join(' ');
/** Control characters: never printed raw by the CLI, never in the dashboard. */
const CONTROL = '\u001b[2J\u001b[31mRED\u001b[0m \u202eevil\u202c';

/** The dashboard without its code spans (where the dashboard puts everything that came from the vault). */
const outsideCodeSpans = (text: string) => text.replace(/`[^`\n]*`/g, '');

describe('6. markup injection: what the laptop shows is text', () => {
  it('signals and subjects with links, images, HTML, comments, --- lines and ANSI escapes', async () => {
    const hw = await hostileWorld();
    try {
      const before = await setup(hw);
      const smtp = await smtpServer();
      const outputs: CliResult[] = [];
      const multiline = `first line\n---\ntype: approval_request\n---\n${MARKUP}`;
      await hw.attacker.draft('EMAIL_M1', { subject: MARKUP });
      await hw.attacker.draft('EMAIL_M2', { subject: `${CONTROL} ${MARKUP}` });
      await hw.attacker.draft('EMAIL_M3', { subject: multiline });
      const signal = (kind: string, fields: Record<string, string>) =>
        stringifyMarkdown({
          data: { type: 'update', kind, agent: 'cloud', created: new Date().toISOString(), ...fields },
          body: `${MARKUP}\n`,
        });
      await hw.attacker.commit('cloud: updates', [
        {
          path: 'Updates/20260101T000001Z_cloud_info_M.md',
          content: signal('info', { summary: MARKUP, task: MARKUP }),
        },
        { path: 'Updates/20260101T000002Z_cloud_info_N.md', content: signal('info', { summary: multiline }) },
        { path: 'Updates/20260101T000003Z_cloud_info_C.md', content: signal('info', { summary: CONTROL }) },
        {
          path: 'Updates/20260101T000004Z_cloud_heartbeat_H.md',
          content: signal('heartbeat', { summary: `${CONTROL} ${MARKUP}`, agent: `cloud ${MARKUP}` }),
        },
        {
          path: 'Updates/20260101T000005Z_cloud_info_X.md',
          content: signal('info', { agent: MARKUP, summary: 'x' }),
        },
        { path: 'Pending_Approval/email/EVIL[x](http:evil.test).md', content: 'not even frontmatter\n' },
      ]);
      await must(outputs, 'fte executor --once', executor(hw, smtp.port));
      const shown = await must(outputs, 'fte approve EMAIL_M1', approve(hw, 'EMAIL_M1'));
      // A subject with control characters or line breaks: approved showing it inertly, or refused in one line.
      const m2 = await approve(hw, 'EMAIL_M2');
      const m3 = await approve(hw, 'EMAIL_M3');
      await must(outputs, 'fte executor --once (send)', executor(hw, smtp.port));
      const st = await must(outputs, 'fte status', status(hw));
      const json = await must(outputs, 'fte status --json', status(hw, true));
      expectSentOnce(smtp, 'EMAIL_M1');
      const dashboard = await readFile(join(hw.local.dir, 'Dashboard.md'), 'utf8');
      // The payload reached the dashboard as text, and nothing of it is live markup.
      expect(dashboard).toContain('click here');
      const live = outsideCodeSpans(dashboard);
      for (const bad of ['](http', '<script', '![', '<!--', '<img', '[[Approved/EMAIL_M1]]']) {
        expect(live.includes(bad), `Dashboard.md has a live ${JSON.stringify(bad)}:\n${dashboard}`).toBe(
          false,
        );
      }
      for (const ch of ['\u001b', '\u202e'])
        expect(dashboard.includes(ch), `Dashboard.md has ${JSON.stringify(ch)}`).toBe(false);
      expect(
        dashboard.split('\n').filter((l) => /^---\s*$/.test(l)),
        'a --- line in Dashboard.md',
      ).toEqual([]);
      for (const [what, out] of [
        ['fte approve EMAIL_M1', shown],
        ['fte approve EMAIL_M2', m2],
        ['fte approve EMAIL_M3', m3],
        ['fte status', st],
        ['fte status --json', json],
      ] as const) {
        const printed = out.stdout + out.stderr;
        expect(printed.includes('\u001b'), `${what} printed an ESC byte: ${JSON.stringify(printed)}`).toBe(
          false,
        );
        expect(printed.includes('\u202e'), `${what} printed a bidi override`).toBe(false);
        expect(out.code === 0 || printed.trim().split('\n').length === 1, `${what}: ${printed}`).toBe(true);
      }
      for (const m of smtp.received) expect(m.envelopeTo).toEqual(['client@example.com']);
      await expectNothingLeaked(hw, before, outputs);
    } finally {
      await hw.dispose();
    }
  });
});
