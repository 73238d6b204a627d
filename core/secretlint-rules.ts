import { lintSource } from '@secretlint/core';
import { secretLintProfiler } from '@secretlint/profiler';
import { rules as recommendedRules } from '@secretlint/secretlint-rule-preset-recommend';
import type { SecretLintCoreConfig } from '@secretlint/types';
import type { RuleHit } from './secret-rules.js';

/**
 * The maintained rule set: the rules of secretlint's recommended preset (vendor tokens: GitHub, GitLab,
 * Stripe, Slack, AWS, GCP service accounts, OpenAI, Anthropic, npm, SendGrid, Shopify, basic-auth URLs,
 * database connection strings, …), run in-process. See docs/adr/0006-secret-guard.md.
 *
 * The rules are registered one by one, not as the preset, because a preset's `disabled` flag is not
 * honoured by @secretlint/core 13.1 and one rule must go: `filter-comments` lets a
 * `secretlint-disable` comment inside a file switch the guard off, and any email author can write one.
 */
const RULE_PREFIX = '@secretlint/secretlint-rule-';

// secretlint times every rule of every scan with `performance.mark()` and keeps each entry, in Node's
// global buffer and in its profiler, for good: about 110 per scan, so a daemon that scans for months would
// grow without bound (2 000 scans: 224 000 entries, 57 MB). fte never reads the profile.
secretLintProfiler.setEnabled(false);

const DROPPED = new Set([`${RULE_PREFIX}filter-comments`]);
/** AWS access key ids (AKIA…) are opt-in in the AWS rule; fte always wants them. */
const OPTIONS: Record<string, Record<string, unknown>> = {
  [`${RULE_PREFIX}aws`]: { enableIDScanRule: true },
};

const CONFIG: SecretLintCoreConfig = {
  rules: recommendedRules
    .filter((rule) => !DROPPED.has(rule.meta.id))
    .map((rule) => ({ id: rule.meta.id, rule, options: OPTIONS[rule.meta.id] ?? {} })),
};

/** `@secretlint/secretlint-rule-stripe` + `STRIPE_SECRET_KEY_LIVE` → `secretlint/stripe:STRIPE_SECRET_KEY_LIVE`. */
function ruleId(ruleId: string, messageId: string): string {
  return `secretlint/${ruleId.replace(RULE_PREFIX, '')}:${messageId}`;
}

/** "found Stripe Live Secret Key: ****" → "a Stripe Live Secret Key" (masked messages; no secret in it). */
function describe(message: string): string {
  const what = message
    .replace(/^found\s+/i, '')
    .split(/[:(]/)[0]!
    .trim();
  if (!what) return 'a secret';
  return `${/^[AEIOU]/i.test(what) ? 'an' : 'a'} ${what}`;
}

/** The first secretlint finding in `text`, or undefined. `path` only lets path-aware rules see the name. */
export async function findSecretlintSecret(text: string, path = 'file.md'): Promise<RuleHit | undefined> {
  const result = await lintSource({
    source: { filePath: path, content: text, contentType: 'text', ext: extensionOf(path) },
    options: { config: CONFIG, maskSecrets: true, noPhysicFilePath: false },
  });
  const first = result.messages.find((m) => m.type === 'message');
  return first
    ? { rule: ruleId(first.ruleId, first.messageId), description: describe(first.message) }
    : undefined;
}

function extensionOf(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot > path.lastIndexOf('/') ? path.slice(dot) : '';
}
