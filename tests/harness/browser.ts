import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium (scripts/test-setup.sh installs it); never a browser downloaded at test time. */
export const CHROMIUM = process.env.FTE_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Headless Chromium through playwright-core; a missing browser fails loudly, it never skips. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: run scripts/test-setup.sh (it installs Debian's chromium)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // As root in a container Chromium's sandbox cannot start; the pages it opens are our own, on loopback.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}
