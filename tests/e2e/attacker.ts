import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approvalContentHash, approvalParameters } from '../../core/codec.js';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { initVault } from '../../core/init.js';
import { VaultRepo } from '../../core/vault-repo.js';
import type { World } from '../executor/helpers.js';

/**
 * A compromised cloud, as an attacker with raw git: it crafts trees and commits with plumbing
 * (`hash-object`, `mktree`, `commit-tree`), so it can push what porcelain would refuse (links, `.git`
 * components, `..`, gitlinks, huge blobs, force-pushed rewrites), and it never checks anything out: no
 * hostile tree ever touches this machine's file system except through the laptop under test.
 */

export type GitRun = { stdout: Buffer; stderr: string; code: number | null };

/** git with optional stdin; rejects on a non-zero exit unless `allowFail`. */
export function gitRaw(
  dir: string,
  args: string[],
  o: { input?: string | Buffer; allowFail?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-C', dir, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', ...o.env },
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const result = { stdout: Buffer.concat(out), stderr: err, code };
      if (code !== 0 && !o.allowFail)
        reject(new Error(`git ${args.slice(0, 4).join(' ')} failed (${code}): ${err.trim()}`));
      else resolve(result);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
  });
}

async function gitText(dir: string, args: string[], input?: string | Buffer): Promise<string> {
  return (await gitRaw(dir, args, { input })).stdout.toString('utf8');
}

const EVIL_ENV = {
  GIT_AUTHOR_NAME: 'fte-cloud',
  GIT_AUTHOR_EMAIL: 'cloud@fte.invalid',
  GIT_COMMITTER_NAME: 'fte-cloud',
  GIT_COMMITTER_EMAIL: 'cloud@fte.invalid',
};

type TreeEntry = { mode: string; type: string; sha: string; name: string };

/** One change to a tree: a path (components split on "/", any names allowed) and what to put there. */
export type Edit =
  | { path: string; content: string | Buffer }
  | { path: string; symlink: string }
  | { path: string; gitlink: string }
  | { path: string; blob: string; mode?: string }
  | { path: string; tree: string }
  | { path: string; delete: true };

export type DraftOptions = {
  to?: string;
  subject?: string;
  body?: string;
  created?: Date;
  expires?: Date;
  extra?: Record<string, unknown>;
  /** Domain folder of the request (default email). */
  domain?: string;
};

/** The files the cloud operator writes for an incoming email (same format as tests/executor/helpers cloudDrafts). */
export function draftFiles(id: string, o: DraftOptions = {}): { item: string; approval: string } {
  const created = o.created ?? new Date();
  const expires = o.expires ?? new Date(created.getTime() + 48 * 3_600_000);
  const to = o.to ?? 'client@example.com';
  const subject = o.subject ?? 'Invoice for January';
  const messageId = `<${id.toLowerCase()}@mail.example.com>`;
  const item = stringifyMarkdown({
    data: {
      type: 'email',
      from: to,
      subject,
      received: created.toISOString(),
      message_id: messageId,
      priority: 'high',
      status: 'in_progress',
    },
    body: '## Email Content\nHello, could you send the January invoice?\n',
  });
  const data: Record<string, unknown> = {
    type: 'approval_request',
    task: id,
    action: 'send_email',
    domain: 'email',
    to,
    subject: `Re: ${subject}`,
    in_reply_to: messageId,
    references: messageId,
    ...o.extra,
    reason: 'reply to a known client',
    created: created.toISOString(),
    expires: expires.toISOString(),
    status: 'pending',
    source: `In_Progress/cloud/${id}.md`,
    drafter: 'template',
  };
  const body = o.body ?? 'Dear client,\n\nThe January invoice is attached.\n\nBest regards,\nthe team\n';
  data.content_sha256 = approvalContentHash('send_email', approvalParameters(data), body);
  return { item, approval: stringifyMarkdown({ data, body }) };
}

export class Attacker {
  private constructor(
    /** A bare clone of the remote: objects and refs only, never a working tree. */
    readonly dir: string,
    readonly remote: string,
  ) {}

  static async clone(remote: string, dir: string): Promise<Attacker> {
    await gitRaw(tmpdir(), ['clone', '--quiet', '--bare', remote, dir]);
    return new Attacker(dir, remote);
  }

  /** The remote's main as it is now (fetched). */
  async head(): Promise<string> {
    await gitRaw(this.dir, ['fetch', '--quiet', '--force', 'origin', '+refs/heads/main:refs/heads/main']);
    return (await gitText(this.dir, ['rev-parse', 'refs/heads/main'])).trim();
  }

  async blob(content: string | Buffer): Promise<string> {
    return (await gitText(this.dir, ['hash-object', '-w', '--stdin'], content)).trim();
  }

  async lsTree(tree: string): Promise<TreeEntry[]> {
    const out = await gitText(this.dir, ['ls-tree', '-z', tree]);
    return out
      .split('\0')
      .filter(Boolean)
      .map((line) => {
        const tab = line.indexOf('\t');
        const [mode, type, sha] = line.slice(0, tab).split(' ') as [string, string, string];
        return { mode, type, sha, name: line.slice(tab + 1) };
      });
  }

  /** Writes a tree with `mktree` (no name checks: `..`, `.git`, `.GIT ` are all accepted). */
  async mktree(entries: TreeEntry[]): Promise<string> {
    const input = entries.map((e) => `${e.mode} ${e.type} ${e.sha}\t${e.name}\0`).join('');
    return (await gitText(this.dir, ['mktree', '-z', '--missing'], input)).trim();
  }

  /** `base` (a tree sha, or undefined for empty) with every edit applied, recursively. */
  async editTree(base: string | undefined, edits: Edit[]): Promise<string | undefined> {
    const entries = new Map<string, TreeEntry>();
    if (base) for (const e of await this.lsTree(base)) entries.set(e.name, e);
    const deeper = new Map<string, Edit[]>();
    for (const edit of edits) {
      const [first, ...rest] = edit.path.split('/');
      if (first === undefined) continue;
      if (rest.length > 0) {
        deeper.set(first, [...(deeper.get(first) ?? []), { ...edit, path: rest.join('/') }]);
        continue;
      }
      if ('delete' in edit) entries.delete(first);
      else if ('content' in edit)
        entries.set(first, { mode: '100644', type: 'blob', sha: await this.blob(edit.content), name: first });
      else if ('symlink' in edit)
        entries.set(first, { mode: '120000', type: 'blob', sha: await this.blob(edit.symlink), name: first });
      else if ('gitlink' in edit)
        entries.set(first, { mode: '160000', type: 'commit', sha: edit.gitlink, name: first });
      else if ('tree' in edit)
        entries.set(first, { mode: '040000', type: 'tree', sha: edit.tree, name: first });
      else entries.set(first, { mode: edit.mode ?? '100644', type: 'blob', sha: edit.blob, name: first });
    }
    for (const [name, sub] of deeper) {
      const existing = entries.get(name);
      const tree = await this.editTree(existing?.type === 'tree' ? existing.sha : undefined, sub);
      if (tree === undefined) entries.delete(name);
      else entries.set(name, { mode: '040000', type: 'tree', sha: tree, name });
    }
    if (entries.size === 0) return undefined;
    return this.mktree([...entries.values()]);
  }

  /** One commit on top of `parent` (default: the remote's main now) with the edits, pushed (forced if asked). */
  async commit(
    message: string,
    edits: Edit[],
    o: { parent?: string | null; force?: boolean; push?: boolean } = {},
  ): Promise<string> {
    const parent = o.parent === undefined ? await this.head() : o.parent;
    const base = parent ? (await gitText(this.dir, ['rev-parse', `${parent}^{tree}`])).trim() : undefined;
    const tree = (await this.editTree(base, edits)) ?? (await this.mktree([]));
    const commit = (
      await gitRaw(this.dir, ['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', message], {
        env: EVIL_ENV,
      })
    ).stdout
      .toString()
      .trim();
    if (o.push !== false) await this.push(commit, o.force);
    return commit;
  }

  async push(commit: string, force = false): Promise<void> {
    await gitRaw(this.dir, ['push', '--quiet', 'origin', `${force ? '+' : ''}${commit}:refs/heads/main`]);
    await gitRaw(this.dir, ['update-ref', 'refs/heads/main', commit]);
  }

  /** What the cloud operator does for an email: item in In_Progress/cloud/, request in Pending_Approval/email/. */
  async draft(id: string, o: DraftOptions = {}): Promise<string> {
    const { item, approval } = draftFiles(id, o);
    return this.commit(`cloud: draft ${id}`, [
      { path: `In_Progress/cloud/${id}.md`, content: item },
      { path: `Pending_Approval/${o.domain ?? 'email'}/${id}.md`, content: approval },
    ]);
  }

  /** Every version `path` ever had on the remote's main, oldest first (content at each commit touching it). */
  async history(path: string): Promise<Array<{ commit: string; content: string }>> {
    await this.head();
    const commits = (
      await gitText(this.dir, ['log', '--reverse', '--format=%H', 'refs/heads/main', '--', path])
    )
      .split('\n')
      .filter(Boolean);
    const out: Array<{ commit: string; content: string }> = [];
    for (const commit of commits) {
      const r = await gitRaw(this.dir, ['show', `${commit}:${path}`], { allowFail: true });
      if (r.code === 0) out.push({ commit, content: r.stdout.toString('utf8') });
    }
    return out;
  }

  async show(rev: string, path: string): Promise<string | undefined> {
    const r = await gitRaw(this.dir, ['show', `${rev}:${path}`], { allowFail: true });
    return r.code === 0 ? r.stdout.toString('utf8') : undefined;
  }

  /** Paths in the remote's main now. */
  async paths(): Promise<string[]> {
    const head = await this.head();
    return (await gitText(this.dir, ['ls-tree', '-r', '-z', '--name-only', head]))
      .split('\0')
      .filter(Boolean);
  }
}

/** Every object of a repository (bare remote), contents included, as latin1 text. */
export async function allObjects(repo: string): Promise<string> {
  return (await gitRaw(repo, ['cat-file', '--batch-all-objects', '--batch'])).stdout.toString('latin1');
}

// -------------------------------------------------------------------------------------------------------
// The laptop's surroundings: a canary, the approval key and private notes outside every vault.

export type Outside = {
  dir: string;
  canary: string;
  canaryText: string;
  notes: string;
  /** Text of the private notes (each must never reach the remote or the dashboard). */
  secrets: string[];
  passwdLine: string;
};

type Snapshot = Map<string, { bytes: string; mtimeMs: number; mode: number } | { entries: string[] }>;

export async function makeOutside(root: string): Promise<Outside> {
  const dir = join(root, 'outside');
  const notes = join(dir, 'notes');
  await mkdir(notes, { recursive: true });
  const canaryText = `CANARY-${randomBytes(12).toString('hex')}`;
  const canary = join(dir, 'canary.txt');
  await writeFile(canary, `${canaryText}\n`);
  const diary = `PRIVATE-DIARY-${randomBytes(8).toString('hex')}`;
  const plan = `PRIVATE-PLAN-${randomBytes(8).toString('hex')}`;
  const subjectSecret = `PRIVATE-SUBJECT-${randomBytes(8).toString('hex')}`;
  await writeFile(join(notes, 'diary.md'), `${diary}: not markdown with frontmatter\n`);
  // A note that looks like a task file: parsed if anything ever follows a link to it.
  await writeFile(
    join(notes, 'plan.md'),
    stringifyMarkdown({
      data: {
        type: 'approval_request',
        task: 'EVIL_NOTES',
        action: 'send_email',
        to: 'attacker@evil.test',
        subject: subjectSecret,
        status: 'approved',
      },
      body: `${plan}\n`,
    }),
  );
  await chmod(join(notes, 'plan.md'), 0o600);
  const passwd = await readFile('/etc/passwd', 'utf8');
  const passwdLine = passwd.split('\n').find((l) => l.startsWith('root:')) ?? passwd.split('\n')[0]!;
  return { dir, canary, canaryText, notes, secrets: [diary, plan, subjectSecret], passwdLine };
}

/** Bytes, mtime and mode of every file under the given paths (folders: their listing too). */
export async function snapshot(paths: string[]): Promise<Snapshot> {
  const shot: Snapshot = new Map();
  const visit = async (p: string): Promise<void> => {
    const info = await lstat(p);
    if (info.isDirectory()) {
      const entries = (await readdir(p)).sort();
      shot.set(p, { entries });
      for (const e of entries) await visit(join(p, e));
    } else {
      shot.set(p, {
        bytes: (await readFile(p)).toString('base64'),
        mtimeMs: info.mtimeMs,
        mode: info.mode,
      });
    }
  };
  for (const p of paths) await visit(p);
  return shot;
}

// -------------------------------------------------------------------------------------------------------
// A world that outlives one test (vitest's afterEach cleanups in tests/executor/helpers would remove it
// after the first test): the caller disposes of it in afterAll.

export type HostileWorld = World & { attacker: Attacker; outside: Outside; dispose: () => Promise<void> };

export async function hostileWorld(): Promise<HostileWorld> {
  const root = await mkdtemp(join(tmpdir(), 'fte-hostile-'));
  const remote = join(root, 'remote.git');
  await gitRaw(root, ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  const clones: Record<string, { dir: string; repo: VaultRepo }> = {};
  for (const agent of ['cloud', 'local']) {
    const dir = join(root, agent);
    await initVault(dir, { remote, agent });
    clones[agent] = { dir, repo: new VaultRepo({ root: dir, agent }) };
  }
  const attacker = await Attacker.clone(remote, join(root, 'attacker.git'));
  const outside = await makeOutside(root);
  return {
    root,
    remote,
    cloud: clones.cloud!,
    local: clones.local!,
    keyFile: join(root, 'keys', 'approval.key'),
    stateBase: join(root, 'state'),
    attacker,
    outside,
    dispose: () => rm(root, { recursive: true, force: true }),
  };
}
