import { type BriefingData, briefingData, type OdooData } from '../../core/briefing/compute.js';
import { readOdoo, readVaultInputs } from '../../core/briefing/gather.js';
import { briefingPath, renderBriefing } from '../../core/briefing/render.js';
import { assertTimeZone, previousWeek, weekRange } from '../../core/briefing/week.js';
import { ConfigError } from '../../core/config.js';
import { loadOdooSettings, OdooClient } from '../../core/odoo/client.js';
import type { AuditEntry, ChangeResult, VaultPort } from '../../core/vault/change.js';
import { type Narrative, narrate } from './narrative.js';

export type BriefingOptions = {
  root: string;
  env: NodeJS.ProcessEnv;
  /** `YYYY-Www`; default: the last complete week in FTE_TIMEZONE. */
  week?: string;
  now?: Date;
  /** The agent named in the audit record of a model call. */
  agent?: string;
};

export type Briefing = {
  path: string;
  content: string;
  data: BriefingData;
  narrative: Narrative;
  /** The `llm_call` audit record of the narrative, when a model wrote it. */
  audit: AuditEntry[];
};

/** Odoo with the cloud's read settings, or why there is no revenue this time. */
async function odooData(env: NodeJS.ProcessEnv, range: ReturnType<typeof weekRange>): Promise<OdooData> {
  if (!env.ODOO_URL) return { status: 'not configured', reason: 'ODOO_URL is not set' };
  let settings: ReturnType<typeof loadOdooSettings>;
  try {
    settings = loadOdooSettings(env);
  } catch (error) {
    if (error instanceof ConfigError) return { status: 'not configured', reason: error.message };
    throw error;
  }
  try {
    const client = await OdooClient.connect(settings);
    return await readOdoo(client, range);
  } catch (error) {
    return { status: 'unreachable', reason: (error as Error).message.split('\n')[0]!.slice(0, 300) };
  }
}

/** Computes the briefing of a week: the numbers from the vault and Odoo, the intro from the narrator. */
export async function makeBriefing(options: BriefingOptions): Promise<Briefing> {
  const now = options.now ?? new Date();
  const tz = assertTimeZone(options.env.FTE_TIMEZONE?.trim() || 'UTC');
  const range = weekRange(options.week ?? previousWeek(now, tz), tz);
  const vault = await readVaultInputs(options.root, range);
  const odoo = await odooData(options.env, range);
  const data = briefingData({
    range,
    now,
    targets: vault.targets,
    subscriptions: vault.subscriptions.rules,
    odoo,
    done: vault.done,
    pending: vault.pending,
    expired: vault.expired,
    errors: vault.errors,
    llmCalls: vault.llmCalls,
  });
  const narrative = await narrate(data, options.env);
  const audit: AuditEntry[] = narrative.usage
    ? [
        {
          action_type: 'llm_call',
          actor: options.agent ?? 'cloud',
          target: narrative.usage.model,
          parameters: {
            purpose: 'briefing',
            model: narrative.usage.model,
            input_tokens: narrative.usage.inputTokens,
            output_tokens: narrative.usage.outputTokens,
            cost_usd: narrative.usage.costUsd,
          },
          result: 'ok',
        },
      ]
    : [];
  return { path: briefingPath(data), content: renderBriefing(data, narrative, now), data, narrative, audit };
}

/**
 * Commits a briefing through a vault port as one change (`<agent>: briefing <week>`), replacing the
 * week's earlier file, with the narrative's `llm_call` record and a `briefing_written` record. With
 * `onlyIfAbsent` (the operator's schedule) a file already there is kept: the result is a conflict.
 */
export function commitBriefing(
  port: VaultPort,
  briefing: Briefing,
  options: { onlyIfAbsent?: boolean } = {},
): Promise<ChangeResult> {
  return port.apply({
    message: `${port.agent}: briefing ${briefing.data.week}`,
    preconditions: options.onlyIfAbsent ? [{ kind: 'absent', path: briefing.path }] : [],
    operations: [
      {
        op: 'write',
        path: briefing.path,
        content: briefing.content,
        mode: options.onlyIfAbsent ? 'create' : 'replace',
      },
    ],
    audit: [
      ...briefing.audit,
      {
        action_type: 'briefing_written',
        actor: port.agent,
        target: briefing.path,
        parameters: {
          week: briefing.data.week,
          odoo: briefing.data.odoo.status,
          narrative: briefing.narrative.by,
        },
        result: 'ok',
      },
    ],
  });
}
