import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMarkdown } from '../../core/frontmatter.js';
import { cloudDrafts, executive, smtpServer, testKey, type World, world } from '../executor/helpers.js';
import { launchChromium } from '../harness/browser.js';
import { executorWithPage, uncertainSend, until } from './helpers.js';

/**
 * The status page in Debian's Chromium (playwright-core), against the real executor daemon, a real git
 * remote and a real SMTP server: the owner clicks, exactly what they saw is sent, a second tab follows
 * live, every view passes axe, and the screenshots in docs/screenshots/ are taken here.
 */

const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'docs', 'screenshots');
const VIEWS = ['overview', 'approvals', 'uncertain', 'tasks', 'activity', 'costs', 'briefings'] as const;

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** Drafts from the cloud, pulled into the laptop's clone. */
async function drafted(ids: string[], options: Parameters<typeof cloudDrafts>[2] = {}): Promise<World> {
  const w = await world();
  const key = await testKey(w.keyFile);
  for (const id of ids) await cloudDrafts(w.cloud, id, { ...options, push: id === ids.at(-1) });
  await executive(w, key, undefined).pass();
  return w;
}

async function open(url: string, width = 1280, colorScheme: 'light' | 'dark' = 'light'): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 900 }, colorScheme });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // A 404 for an approval decided meanwhile is an answer the page handles, not an error of the page.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  await page.goto(url);
  (page as Page & { errors?: string[] }).errors = errors;
  return page;
}

const testId = (page: Page, id: string) => page.getByTestId(id);

describe('status page in Chromium', () => {
  it('approve by clicking: exactly one message, and a second tab sees it leave live', async () => {
    const w = await drafted(['EMAIL_B1', 'EMAIL_B2']);
    const smtp = await smtpServer();
    const exec = await executorWithPage(w, smtp.port);
    const tab = await open(`${exec.url}#/approvals`);
    const other = await open(`${exec.url}#/approvals`);
    await testId(other, 'approval-row-EMAIL_B1').waitFor();

    await testId(tab, 'approval-row-EMAIL_B1').click();
    // The owner sees every recipient before signing.
    await expect.poll(() => testId(tab, 'effect-table').textContent()).toContain('client@example.com');
    await testId(tab, 'approve-button').click();
    await expect.poll(() => testId(tab, 'decision-message').textContent()).toMatch(/approved EMAIL_B1/);
    await until('the message', () => (smtp.received.length > 0 ? true : undefined));
    // The other tab, never reloaded, loses the row once the executor filed it.
    await testId(other, 'approval-row-EMAIL_B1').waitFor({ state: 'detached', timeout: 15_000 });
    await testId(other, 'approval-row-EMAIL_B2').waitFor();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0]?.envelopeTo).toEqual(['client@example.com']);
    expect((tab as Page & { errors?: string[] }).errors).toEqual([]);
  });

  it('edit then approve: the received body is the edited text', async () => {
    const w = await drafted(['EMAIL_ED']);
    const smtp = await smtpServer();
    const exec = await executorWithPage(w, smtp.port);
    const tab = await open(`${exec.url}#/approvals`);
    await testId(tab, 'approval-row-EMAIL_ED').click();
    await testId(tab, 'edit-button').click();
    const edited = 'Dear client,\n\nThe owner rewrote this: the invoice comes on Friday.\n\nBest,\nOwner\n';
    await testId(tab, 'draft-editor').fill(edited);
    await testId(tab, 'approve-edited-button').click();
    await until('the message', () => (smtp.received.length > 0 ? true : undefined));
    expect(smtp.received[0]?.parsed.text).toBe(edited);
  });

  it('reject with a reason: nothing sent, Rejected/ has the reason', async () => {
    const w = await drafted(['EMAIL_RJ']);
    const smtp = await smtpServer();
    const exec = await executorWithPage(w, smtp.port);
    const tab = await open(`${exec.url}#/approvals`);
    await testId(tab, 'approval-row-EMAIL_RJ').click();
    await testId(tab, 'reject-button').click();
    await testId(tab, 'reject-reason').fill('not a client of ours');
    await testId(tab, 'reject-confirm').click();
    await until(
      'Rejected/EMAIL_RJ.md',
      () => existsSync(join(w.local.dir, 'Rejected/EMAIL_RJ.md')) || undefined,
    );
    const data = parseMarkdown(await readFile(join(w.local.dir, 'Rejected/EMAIL_RJ.md'), 'utf8')).data;
    expect(JSON.stringify(data)).toContain('not a client of ours');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(smtp.connections()).toBe(0);
  });

  it('an Uncertain send resolved as not sent by clicking goes out once, with the same Message-ID', async () => {
    const w = await drafted(['EMAIL_UN']);
    const smtp = await smtpServer();
    await uncertainSend(w, smtp.port, 'EMAIL_UN');
    const exec = await executorWithPage(w, smtp.port);
    const tab = await open(`${exec.url}#/uncertain`);
    await until(
      'the Approved/ file marked uncertain',
      async () =>
        /status: uncertain/.test(await readFile(join(w.local.dir, 'Approved/EMAIL_UN.md'), 'utf8')) ||
        undefined,
    );
    await testId(tab, 'resolve-not-sent-EMAIL_UN').click();
    await testId(tab, 'resolve-confirm-EMAIL_UN').click();
    await until('the message', () => (smtp.received.length > 0 ? true : undefined));
    await until('Done/EMAIL_UN.md', () => existsSync(join(w.local.dir, 'Done/EMAIL_UN.md')) || undefined);
    expect(smtp.received).toHaveLength(1);
  });

  it('a POST from the page without the CSRF token is refused', async () => {
    const w = await drafted(['EMAIL_CS']);
    const smtp = await smtpServer();
    const exec = await executorWithPage(w, smtp.port);
    const tab = await open(`${exec.url}#/approvals`);
    await testId(tab, 'approval-row-EMAIL_CS').waitFor();
    const status = await tab.evaluate(async () => {
      const detail = await (await fetch('/api/approvals/EMAIL_CS')).json();
      const res = await fetch('/api/approvals/EMAIL_CS/approve', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ seen: detail.seen }),
      });
      return res.status;
    });
    expect(status).toBe(403);
    expect(existsSync(join(w.local.dir, 'Approved/EMAIL_CS.md'))).toBe(false);
  });

  it('text from the vault stays text: no markup, no live link, no script', async () => {
    const hostile =
      '<img src=x onerror="window.pwned=1"> [click](http://evil.example/) <script>window.pwned=2</script>';
    const w = await drafted(['EMAIL_XSS'], { subject: hostile, body: `${hostile}\n` });
    const smtp = await smtpServer();
    const exec = await executorWithPage(w, smtp.port);
    const tab = await open(`${exec.url}#/approvals`);
    await testId(tab, 'approval-row-EMAIL_XSS').click();
    await expect.poll(() => tab.locator('body').textContent()).toContain('<img src=x onerror=');
    expect(await tab.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await tab.locator('img').count()).toBe(0);
    expect(await tab.locator('a[href*="evil.example"]').count()).toBe(0);
    await tab.goto(`${exec.url}#/tasks`);
    await testId(tab, 'task-row-EMAIL_XSS').waitFor();
    expect(await tab.locator('a[href*="evil.example"]').count()).toBe(0);
  });

  it('every view passes axe (no serious or critical violation), in light and dark, and is screenshotted at 1280 and 375 px', async () => {
    const smtp = await smtpServer();
    const w = await showcase(smtp.port);
    const exec = await executorWithPage(w, smtp.port);
    await mkdir(SCREENSHOTS, { recursive: true });
    for (const [width, scheme] of [
      [1280, 'light'],
      [375, 'light'],
      [1280, 'dark'],
    ] as const) {
      const tab = await open(exec.url, width, scheme);
      for (const [view, loaded] of Object.entries(LOADED)) {
        await tab.goto(`${exec.url}#/${view === 'overview' ? '' : view}`);
        await tab.locator(loaded).first().waitFor();
        if (view === 'approvals') {
          await testId(tab, 'approval-row-EMAIL_1001').click();
          await testId(tab, 'effect-table').waitFor();
        }
        const { violations } = await new AxeBuilder({ page: tab }).analyze();
        const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        expect(serious.map((v) => `${view}@${width} ${scheme}: ${v.id} ${v.help}`)).toEqual([]);
        // Usable at 375 px: nothing wider than the screen, every control at least 44 px tall and wide.
        const overflow = await tab.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `${view} scrolls sideways at ${width}px`).toBeLessThanOrEqual(0);
        if (width === 375) expect(await smallTargets(tab), `${view}: touch targets under 44 px`).toEqual([]);
        const name = `${view}-${width}${scheme === 'dark' ? '-dark' : ''}.png`;
        await tab.screenshot({ path: join(SCREENSHOTS, name), fullPage: width === 1280 });
      }
      expect((tab as Page & { errors?: string[] }).errors).toEqual([]);
    }
  }, 240_000);
});

/** Visible buttons, links and form controls smaller than 44 × 44 px (WCAG 2.5.5), by their text. */
function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('button, a[href], select, input, textarea, [role="button"]')]
      .filter((el) => el.offsetParent !== null)
      .map((el) => ({ el, box: el.getBoundingClientRect() }))
      .filter(({ box }) => box.width < 44 || box.height < 44)
      .map(
        ({ el, box }) =>
          `${el.tagName.toLowerCase()} "${(el.textContent ?? '').trim().slice(0, 30)}" ${Math.round(box.width)}×${Math.round(box.height)}`,
      ),
  );
}

/** Per view, an element that shows its data has arrived (the screenshot is never a loading state). */
const LOADED: Record<(typeof VIEWS)[number], string> = {
  overview: '[data-testid="agent-row-cloud"]',
  approvals: '[data-testid="approval-row-EMAIL_1001"]',
  uncertain: '[data-testid="uncertain-row-EMAIL_1003"]',
  tasks: '[data-testid="task-row-EMAIL_1001"]',
  activity: '[data-testid="activity-row"]',
  costs: '[data-testid="cost-chart"]',
  briefings: '[data-testid="briefing-item"]',
};

/** A vault with a bit of everything for the views and the screenshots. */
async function showcase(smtpPort: number): Promise<World> {
  const w = await world();
  const key = await testKey(w.keyFile);
  const people = [
    ['EMAIL_1001', 'anna@northwind.example', 'Invoice for January'],
    ['EMAIL_1002', 'ben@contoso.example', 'Meeting next Tuesday?'],
    ['EMAIL_1003', 'chloe@fabrikam.example', 'Quote for 40 units'],
  ] as const;
  const now = Date.now();
  for (const [i, [id, to, subject]] of people.entries()) {
    await cloudDrafts(w.cloud, id, {
      to,
      subject,
      created: new Date(now - (i + 1) * 3_600_000),
      expires: new Date(now + (i === 0 ? 40 * 60_000 : (i + 1) * 20 * 3_600_000)),
      push: false,
    });
  }
  const day = new Date().toISOString().slice(0, 10);
  const yesterday = new Date(now - 86_400_000).toISOString().slice(0, 10);
  const calls = (d: string, model: string, n: number) =>
    Array.from({ length: n }, (_, k) =>
      JSON.stringify({
        timestamp: `${d}T0${k % 9}:00:00.000Z`,
        action_type: 'llm_call',
        actor: 'cloud',
        target: model,
        parameters: {
          purpose: 'draft',
          model,
          input_tokens: 1200,
          output_tokens: 300,
          cost_usd: model.includes('haiku') ? 0.002 : 0.0081,
        },
        approval_status: 'not_required',
        approved_by: null,
        result: 'ok',
        task: 'EMAIL_1001',
      }),
    ).join('\n');
  await mkdir(join(w.cloud.dir, 'Logs'), { recursive: true });
  await writeFile(
    join(w.cloud.dir, 'Logs', `${yesterday}.json`),
    `${calls(yesterday, 'claude-sonnet-4-5', 6)}\n${calls(yesterday, 'claude-haiku-4-5', 9)}\n`,
  );
  await writeFile(join(w.cloud.dir, 'Logs', `${day}.json`), `${calls(day, 'claude-sonnet-4-5', 4)}\n`, {
    flag: 'a',
  });
  await mkdir(join(w.cloud.dir, 'Briefings'), { recursive: true });
  await writeFile(
    join(w.cloud.dir, 'Briefings', `${day}_Monday_Briefing.md`),
    `---\ntitle: Monday briefing\ncreated: ${new Date().toISOString()}\n---\n## Revenue\n- This week: 4 200 EUR\n\n## Bottlenecks\n- Quote for Fabrikam waits for approval\n`,
  );
  await mkdir(join(w.cloud.dir, 'Updates'), { recursive: true });
  await writeFile(
    join(w.cloud.dir, 'Updates', `heartbeat-cloud-${now}.md`),
    `---\ntype: update\nkind: heartbeat\nagent: cloud\ncreated: ${new Date(now - 60_000).toISOString()}\nsummary: 3 drafts waiting\n---\n`,
  );
  await w.cloud.repo.commit('cloud: logs, heartbeat and briefing');
  await w.cloud.repo.sync();
  await executive(w, key, undefined).pass();
  // One send the executor was killed in the middle of: Uncertain, for the owner to resolve.
  await uncertainSend(w, smtpPort, 'EMAIL_1003');
  return w;
}
