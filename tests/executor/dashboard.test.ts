import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringifyMarkdown } from '../../core/frontmatter.js';
import { cell } from '../../executor/dashboard.js';
import {
  auditRecords,
  cloudDrafts,
  executive,
  git,
  localState,
  subjects,
  testKey,
  world,
} from './helpers.js';

function update(fields: Record<string, string>): string {
  return stringifyMarkdown({ data: { type: 'update', ...fields }, body: '' });
}

describe('Dashboard.md: the single writer merges Updates/ signals', () => {
  it('shows pending approvals with approve hints, heartbeats, signals and activity; archives what it merged', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    await cloudDrafts(w.cloud, 'EMAIL_P', { subject: 'Quote request' });
    const updates = join(w.cloud.dir, 'Updates');
    await writeFile(
      join(updates, '20260107T100000Z_cloud_heartbeat_cloud.md'),
      update({ kind: 'heartbeat', agent: 'cloud', created: '2026-01-07T10:00:00Z', summary: '3 tasks' }),
    );
    await writeFile(
      join(updates, '20260107T100500Z_cloud_heartbeat_cloud.md'),
      update({ kind: 'heartbeat', agent: 'cloud', created: '2026-01-07T10:05:00Z', summary: '4 tasks' }),
    );
    await writeFile(
      join(updates, '20260107T100100Z_cloud_approval_requested_EMAIL_P.md'),
      update({
        kind: 'approval_requested',
        agent: 'cloud',
        created: '2026-01-07T10:01:00Z',
        task: 'EMAIL_P',
        summary: 'reply drafted',
      }),
    );
    await writeFile(
      join(updates, '20260107T100200Z_cloud_info_bad.md'),
      '---\ntype: update\nkind: gossip\n---\n',
    );
    await w.cloud.repo.commit('cloud: updates');
    await w.cloud.repo.sync();

    const report = await executive(w, key, undefined).pass();
    expect(report.merged).toBe(4);
    const dashboard = await readFile(join(w.local.dir, 'Dashboard.md'), 'utf8');
    expect(dashboard).toMatch(/## Pending approvals \(1\)/);
    expect(dashboard).toMatch(
      /EMAIL_P.*send_email.*client@example\.com.*Re: Quote request.*`fte approve EMAIL_P`/,
    );
    expect(dashboard).toContain('- `cloud`: last heartbeat `2026-01-07T10:05:00Z` (`4 tasks`)');
    expect(dashboard).toContain(
      '- `2026-01-07T10:01:00Z` `cloud` `approval_requested` `EMAIL_P`: `reply drafted`',
    );
    expect(dashboard).toMatch(
      /`unknown` `unreadable`: `Updates\/20260107T100200Z_cloud_info_bad\.md: update signal: kind/,
    );
    expect(dashboard).toMatch(/local \(this machine\): sync synced, last change received/);
    expect(dashboard).toMatch(/## Recent activity/);
    expect((await auditRecords(w.local.dir)).map((r) => r.action_type)).toContain('update_unreadable');

    // Merged signals left Updates/ for Updates/archive/ in a commit by local, pushed with the dashboard.
    expect((await readdir(join(w.local.dir, 'Updates'))).filter((f) => f.endsWith('.md'))).toEqual([]);
    expect((await readdir(join(w.local.dir, 'Updates/archive'))).sort()).toHaveLength(4);
    expect((await subjects(w.local.dir))[0]).toBe('local: dashboard 4-updates');
    const tree = await git(w.remote, 'ls-tree', '-r', '--name-only', 'main');
    expect(tree).toContain('Updates/archive/20260107T100500Z_cloud_heartbeat_cloud.md');
    expect(tree).not.toMatch(/^Updates\/2026[^\n]*$/m);
    await w.cloud.repo.sync();
    expect(await readFile(join(w.cloud.dir, 'Dashboard.md'), 'utf8')).toBe(dashboard);
  });

  it('an idle pass changes nothing and commits nothing; a change shows up on the next pass', async () => {
    const w = await world();
    const key = await testKey(w.keyFile);
    const ex = executive(w, key, undefined);
    await ex.pass();
    const head = await git(w.local.dir, 'rev-parse', 'HEAD');
    const text = await readFile(join(w.local.dir, 'Dashboard.md'), 'utf8');
    await ex.pass();
    await ex.pass();
    expect(await git(w.local.dir, 'rev-parse', 'HEAD')).toBe(head);
    expect(await readFile(join(w.local.dir, 'Dashboard.md'), 'utf8')).toBe(text);
    expect(text).toMatch(/Nothing waits for you/);

    await cloudDrafts(w.cloud, 'EMAIL_N');
    await ex.pass();
    expect(await readFile(join(w.local.dir, 'Dashboard.md'), 'utf8')).toMatch(/`fte approve EMAIL_N`/);
    expect(existsSync((await localState(w)).dashboard)).toBe(true);
    expect(existsSync(join(w.local.dir, '.fte/dashboard.json'))).toBe(false);
    // The pass after that is idle again: no ping-pong of dashboard commits between the clones.
    const after = await git(w.local.dir, 'rev-parse', 'HEAD');
    await ex.pass();
    expect(await git(w.local.dir, 'rev-parse', 'HEAD')).toBe(after);
  });
});

describe('Dashboard.md cells', () => {
  it('shows text from the vault as inert text: no live link, image, HTML, wikilink or control character', () => {
    for (const hostile of [
      '[click](http://evil.example/x)',
      '![track](http://evil.example/p.png)',
      '<script>alert(1)</script><img src=x onerror=alert(1)>',
      '[[Company_Handbook]] and http://evil.example/',
      'a `code` span` that tries to close early',
      'line one\n---\n# heading',
      '\u001b[2J\u202eevil\u0007',
    ]) {
      const shown = cell(hostile);
      expect(shown, hostile).toMatch(/^`[^`]*`$/);
      expect(shown, hostile).not.toMatch(/[\u0000-\u001f\u007f\u202e]/);
    }
    expect(cell('a|b')).toBe('`a\\|b`');
    expect(cell(undefined)).toBe('');
  });
});
