import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../core/audit.js';
import { parseMarkdown } from '../../core/frontmatter.js';
import { sanitizeTaskId } from '../../core/ids.js';
import { TemplateDrafter } from '../../operator/drafters/template.js';
import { Operator } from '../../operator/operator.js';
import { taskName } from '../../operator/task.js';
import { git, itemText, remoteWithClones } from '../helpers/vaults.js';

const sha = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

describe('malformed items', () => {
  it('each lands in Needs_Action/_errors/ with its reason, and the good item still flows', async () => {
    const { clones } = await remoteWithClones(['cloud', 'local']);
    const cloud = clones.cloud!.dir;
    const inbox = join(cloud, 'Needs_Action/email');
    const badYaml = '---\ntype: email\nfrom: [client@example.com\nsubject: broken\n---\n\nBody\n';
    const binary = Buffer.from([
      0x2d, 0x2d, 0x2d, 0x0a, 0x00, 0xff, 0xfe, 0x01, 0x02, 0x89, 0x50, 0x4e, 0x47,
    ]);
    const huge = `---\ntype: email\nfrom: client@example.com\nsubject: huge\n---\n\n${'A'.repeat(20 * 1024 * 1024)}\n`;
    const items: Record<string, string | Buffer> = {
      BAD_YAML: badYaml,
      NO_FROM: itemText({ type: 'email', subject: 'who sent this?' }),
      NO_ADDRESS: itemText({ type: 'email', from: 'Jane (no address)', subject: 'x' }),
      WRONG_TYPE: itemText({ type: 'invoice', from: 'client@example.com' }),
      BINARY: binary,
      HUGE: huge,
      'bad name!': itemText({ type: 'email', from: 'client@example.com', subject: 'odd file name' }),
      GOOD: itemText({ type: 'email', from: 'client@example.com', subject: 'A real question' }),
    };
    for (const [id, content] of Object.entries(items)) await writeFile(join(inbox, `${id}.md`), content);

    const op = new Operator({
      vault: cloud,
      agent: 'cloud',
      drafter: new TemplateDrafter(),
      logger: pino({ level: 'silent' }),
    });
    const report = await op.runOnce();
    expect(report.steps).toMatchObject({ quarantine: 7, claim: 1, draft: 1 });
    expect(existsSync(join(cloud, 'Pending_Approval/email/GOOD.md'))).toBe(true);
    expect((await readdir(inbox)).filter((f) => !f.startsWith('.'))).toEqual([]);

    const errors = join(cloud, 'Needs_Action/_errors');
    const reasonOf = async (id: string) => {
      const data = parseMarkdown(await readFile(join(errors, `${id}.md`), 'utf8')).data;
      expect(data).toMatchObject({
        status: 'error',
        original_path: expect.stringMatching(/^Needs_Action\/email\//),
      });
      return String(data.error);
    };
    expect(await reasonOf('BAD_YAML')).toMatch(/invalid YAML in frontmatter/);
    expect(await reasonOf('NO_FROM')).toMatch(/^from: missing/);
    expect(await reasonOf('NO_ADDRESS')).toMatch(/^from: no email address/);
    expect(await reasonOf('WRONG_TYPE')).toMatch(/^type: expected "email"/);
    expect(await reasonOf('BINARY')).toMatch(/not UTF-8 text|binary/);
    expect(await reasonOf('HUGE')).toMatch(/more than the 5242880 bytes allowed/);
    const odd = sanitizeTaskId('bad name!');
    expect(await reasonOf(odd)).toMatch(/not a valid task id/);

    // Unparseable originals are kept byte for byte beside the description; parseable ones keep their content.
    expect(sha(await readFile(join(errors, 'BAD_YAML.orig')))).toBe(sha(badYaml));
    expect(sha(await readFile(join(errors, 'BINARY.orig')))).toBe(sha(binary));
    expect(sha(await readFile(join(errors, 'HUGE.orig')))).toBe(sha(huge));
    expect(sha(await readFile(join(errors, `${odd}.orig`)))).toBe(sha(items['bad name!']!));
    expect(existsSync(join(errors, 'NO_FROM.orig'))).toBe(false);
    expect(parseMarkdown(await readFile(join(errors, 'NO_FROM.md'), 'utf8'))).toMatchObject({
      data: { subject: 'who sent this?' },
      body: 'Hello.\n',
    });

    // The tasks show Failed with the reason; audit records and signals tell the owner.
    for (const id of ['BAD_YAML', 'NO_FROM', 'BINARY', 'HUGE', odd]) {
      const task = await op.store.get(taskName(id));
      expect(task?.status, id).toMatchObject({ phase: 'Failed', lastError: expect.any(String) });
    }
    expect(await op.store.get(taskName('bad name!'))).toBeUndefined();
    const audit = await new AuditLog(cloud).read(new Date());
    expect(audit.filter((r) => r.action_type === 'item_error')).toHaveLength(7);
    const signals = (await readdir(join(cloud, 'Updates'))).filter((f) => f.includes('_task_failed_'));
    expect(signals).toHaveLength(7);

    // Everything reached the remote, and a second run leaves it all as it is.
    await clones.local!.repo.sync();
    expect(existsSync(join(clones.local!.dir, 'Needs_Action/_errors/HUGE.orig'))).toBe(true);
    const again = await new Operator({
      vault: cloud,
      agent: 'cloud',
      drafter: new TemplateDrafter(),
      logger: pino({ level: 'silent' }),
    }).runOnce();
    expect(again.steps).toEqual({});
    expect(await git(cloud, 'log', '--format=%s', '--grep=^cloud: error ')).toMatch(/cloud: error HUGE/);
  });
});
