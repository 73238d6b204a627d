import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseMarkdown } from '../../core/frontmatter.js';
import { runFte } from '../helpers/cli.js';
import { git, itemText, remoteWithClones } from '../helpers/vaults.js';
import { assertBuilt, cleanEnv } from './process.js';

const exec = promisify(execFile);

beforeAll(assertBuilt);

/** Every regular file below `dir` (links are not followed, .git is left out), as [path, bytes]. */
async function regularFiles(dir: string): Promise<Array<[string, Buffer]>> {
  const out: Array<[string, Buffer]> = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.name === '.git') continue;
    if (entry.isDirectory()) out.push(...(await regularFiles(path)));
    else if (entry.isFile()) out.push([path, await readFile(path)]);
  }
  return out;
}

const bomb = [
  '---',
  'type: email',
  'from: client@example.com',
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  'g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
  '---',
  '',
  'Billion laughs.',
  '',
].join('\n');

describe('hostile files beside a good item (the real `fte operator --once`)', () => {
  it('quarantines or reports each, never reads outside the vault, never hangs, and the good item flows', async () => {
    const { root, remote, clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!.dir;
    const local = clones.local!.dir;
    const canary = `CANARY-${randomBytes(8).toString('hex')}`;
    const outside = join(root, 'outside');
    await mkdir(outside);
    await writeFile(
      join(outside, 'secret.md'),
      itemText({ type: 'email', from: 'x@example.com', subject: canary }, `${canary}\n`),
    );
    await writeFile(
      join(outside, 'EVIL.md'),
      itemText({ type: 'email', from: 'x@example.com', subject: canary }, `${canary}\n`),
    );

    // The remote plants a link to a file outside the vault and a linked domain folder (pushed from `local`).
    await symlink(join(outside, 'secret.md'), join(local, 'Needs_Action/email/LINK_OUT.md'));
    await symlink(outside, join(local, 'Needs_Action/evil'));
    await git(local, 'add', 'Needs_Action/email/LINK_OUT.md', 'Needs_Action/evil');
    await git(local, 'commit', '-q', '-m', 'remote: plant links');
    await git(local, 'push', '-q', 'origin', 'HEAD:main');

    const inbox = join(cloud, 'Needs_Action/email');
    const items: Record<string, string | Buffer> = {
      GOOD: itemText(
        {
          type: 'email',
          from: 'client@example.com',
          subject: 'A real question',
          message_id: '<g1@example.com>',
        },
        'Could you send a quote?\n',
      ),
      BOMB: bomb,
      // 10 MB of frontmatter: refused by size before anything is parsed.
      HUGE_FM: `---\ntype: email\nfrom: client@example.com\npad: "${'x'.repeat(10 * 1024 * 1024)}"\n---\n\nBody\n`,
      // 1 MB of frontmatter: under the file limit, over the frontmatter limit.
      BIG_FM: `---\ntype: email\nfrom: client@example.com\npad: "${'x'.repeat(1024 * 1024)}"\n---\n\nBody\n`,
      DEEP: `---\ntype: email\nfrom: client@example.com\nx: ${'['.repeat(100_000)}\n---\n\nBody\n`,
      BAD_UTF8: Buffer.concat([
        Buffer.from('---\ntype: email\nfrom: client@example.com\nsubject: '),
        Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff]),
        Buffer.from('\n---\n\nBody\n'),
      ]),
      JS_FUNCTION:
        '---\ntype: email\nfrom: client@example.com\nsubject: !!js/function "function () { return 1 }"\n---\n\nBody\n',
      NUL: '---\ntype: email\nfrom: client@example.com\n---\n\nBody\u0000\n',
    };
    for (const [id, content] of Object.entries(items)) await writeFile(join(inbox, `${id}.md`), content);
    // A FIFO: a plain readFile would wait for a writer forever.
    await exec('mkfifo', [join(inbox, 'FIFO.md')]);

    // runFte kills it after 60 s: a hang shows as a signal, not as a measured time.
    const run = await runFte(['operator', '--vault', cloud, '--once'], cleanEnv(), 60_000);
    expect(run.signal, 'the operator hung and was killed').toBeNull();
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    expect(run.stderr).not.toMatch(/internal error|\n\s+at /);

    // The good item got its approval request.
    expect(existsSync(join(cloud, 'Pending_Approval/email/GOOD.md'))).toBe(true);

    // Each bad file is in Needs_Action/_errors/ with its reason.
    const errors = join(cloud, 'Needs_Action/_errors');
    const reasonOf = async (id: string) => {
      const data = parseMarkdown(await readFile(join(errors, `${id}.md`), 'utf8')).data;
      expect(data, id).toMatchObject({ status: 'error', original_path: `Needs_Action/email/${id}.md` });
      return String(data.error);
    };
    expect(await reasonOf('BOMB')).toMatch(/unreadable YAML|alias/i);
    expect(await reasonOf('HUGE_FM')).toMatch(/more than the 5242880 bytes allowed/);
    expect(await reasonOf('BIG_FM')).toMatch(/frontmatter too large/);
    expect(await reasonOf('DEEP')).toMatch(/nested too deeply/);
    expect(await reasonOf('BAD_UTF8')).toMatch(/not UTF-8 text/);
    expect(await reasonOf('JS_FUNCTION')).toMatch(/YAML tags are not allowed/);
    expect(await reasonOf('NUL')).toMatch(/NUL bytes/);
    for (const id of Object.keys(items)) {
      if (id !== 'GOOD') expect(existsSync(join(inbox, `${id}.md`)), id).toBe(false);
    }

    // The FIFO and the links are never opened: reported with the reason, their tasks Failed, left in place
    // (nothing can move a FIFO into git; the git owner removes links the remote planted).
    expect(run.stderr).toMatch(/Needs_Action\/email\/FIFO\.md.*unsafe path: special file/);
    // The pulled links are taken out by the git owner right after the pull (git rm of the link itself,
    // never followed), so they never become tasks.
    expect(run.stdout).toMatch(/^operator: 9 tasks \(Failed 8, PendingApproval 1\)/);
    expect(run.stderr).toMatch(/symbolic link Needs_Action\/evil .*taken out of the vault/);
    expect(run.stderr).toMatch(/symbolic link Needs_Action\/email\/LINK_OUT\.md .*taken out of the vault/);
    expect(existsSync(join(inbox, 'LINK_OUT.md'))).toBe(false);
    expect(existsSync(join(cloud, 'Needs_Action/evil'))).toBe(false);
    expect(await readFile(join(outside, 'secret.md'), 'utf8')).toContain(canary);

    // Nothing from outside the vault reached the vault, the remote or the output.
    expect(`${run.stdout}${run.stderr}`).not.toContain(canary);
    for (const [path, bytes] of await regularFiles(cloud)) {
      expect(bytes.includes(canary), path).toBe(false);
    }
    const remoteHits = await git(remote, 'grep', '-l', canary, 'main', '--').catch(() => '');
    expect(remoteHits).toBe('');
    expect(await git(remote, 'log', '--format=%s', 'main')).toMatch(/cloud: draft GOOD/);
  });
});
