import { z } from 'zod';

/**
 * The status page's HTTP API: what `fte executor` (read-write) and `fte operator` (read-only) serve under
 * `/api/`, and what `dashboard/` asks for. Requests are zod schemas (the server parses every body with
 * them); responses are types the page imports type-only (no zod in the bundle).
 *
 * Every text in a response may have come from the remote (the cloud is assumed compromised): the page
 * shows it as text, never as markup or a live link.
 *
 *   GET  /api/session                      SessionInfo (sets the session cookie; carries the CSRF token)
 *   POST /api/login                        LoginRequest → SessionInfo     (only when a password/token is set)
 *   POST /api/logout
 *   GET  /api/overview                     Overview
 *   GET  /api/approvals                    ApprovalSummary[] (soonest expiry first)
 *   GET  /api/approvals/:id                ApprovalDetail
 *   POST /api/approvals/:id/approve        ApproveRequest → DecisionResult
 *   POST /api/approvals/:id/reject         RejectRequest → DecisionResult
 *   GET  /api/uncertain                    UncertainSend[]
 *   POST /api/uncertain/:id/resolve        ResolveRequest → DecisionResult
 *   GET  /api/tasks                        TaskRow[]
 *   GET  /api/activity?limit=N             ActivityRecord[] (newest first)
 *   GET  /api/costs                        CostRow[]
 *   GET  /api/briefings                    Briefing[]
 *   GET  /api/events                       text/event-stream: `event: change`, data ChangeEvent
 *
 * A state-changing request (every POST) carries the header `x-csrf-token` with the session's token;
 * errors are `{ "error": "..." }` with a 4xx/5xx status.
 */

export const CSRF_HEADER = 'x-csrf-token';
export const SESSION_COOKIE = 'fte_session';

/** The sha256 hex of the approval request the owner looked at (ApprovalDetail.seen). */
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest');

export const ApproveRequest = z.strictObject({
  /** What the owner saw: refused with 409 if the request changed since (a pull brought a new version). */
  seen: Sha256Hex,
  /** The owner's edit of the draft's body; absent = approve the draft as it is. */
  body: z.string().min(1, 'the draft is empty').max(200_000).optional(),
});
export type ApproveRequest = z.infer<typeof ApproveRequest>;

export const RejectRequest = z.strictObject({
  reason: z.string().trim().min(1, 'say why').max(2_000),
});
export type RejectRequest = z.infer<typeof RejectRequest>;

export const ResolveRequest = z.strictObject({
  outcome: z.enum(['sent', 'not_sent']),
});
export type ResolveRequest = z.infer<typeof ResolveRequest>;

export const LoginRequest = z.strictObject({
  secret: z.string().min(1).max(1_024),
});
export type LoginRequest = z.infer<typeof LoginRequest>;

export type SessionInfo = {
  /** `local`: the laptop's executor (decisions allowed); `cluster`: the operator, read-only. */
  mode: 'local' | 'cluster';
  readOnly: boolean;
  authRequired: boolean;
  authenticated: boolean;
  /** Send back as `x-csrf-token` on every POST (the sign-in too). */
  csrf: string;
  agent: string;
};

/** The task phases, in the order the page shows their counts. */
export { PHASES as PHASE_NAMES } from './phases.js';

export type AlertKind =
  | 'remote_refused'
  | 'history_rewritten'
  | 'uncertain'
  | 'failed'
  | 'expiring'
  | 'cloud_silent'
  | 'errors'
  /** A mail sign-in (OAuth) was revoked or expired: run `fte mail login` again. */
  | 'mail_login';

export type Alert = { kind: AlertKind; message: string; task?: string };

export type AgentBeat = {
  name: string;
  /** Last heartbeat (ISO), or undefined when none was ever seen. */
  lastSeen?: string;
  summary?: string;
  /** Seconds since the last heartbeat. */
  ageSeconds?: number;
};

export type Overview = {
  now: string;
  counts: Record<string, number>;
  agents: AgentBeat[];
  sync: {
    state: string;
    /** When commits last came in from the remote. */
    lastReceived?: string;
    /** When this machine last synced (successfully or not). */
    lastSync?: string;
    /** Seconds between now and the last commits received. */
    lagSeconds?: number;
    error?: string;
  };
  alerts: Alert[];
};

export type ApprovalSummary = {
  id: string;
  domain: string;
  action: string;
  to?: string;
  subject?: string;
  /** ISO time the request expires. */
  expires: string;
  status: string;
  created?: string;
};

export type OriginalMessage = {
  from?: string;
  to?: string;
  subject?: string;
  received?: string;
  body: string;
};

export type ApprovalDetail = ApprovalSummary & {
  /** Every recipient and effect the signature will cover, as `fte approve` prints them. */
  effect: Array<[string, string]>;
  notes: string[];
  /** The draft's body, as text. */
  draft: string;
  original?: OriginalMessage;
  /** sha256 hex of the request as shown: send back in ApproveRequest.seen. */
  seen: string;
  /** Why it cannot be approved (expired, unreadable, an unknown parameter), if so. */
  problem?: string;
};

export type DecisionResult = {
  id: string;
  outcome: 'approved' | 'rejected' | 'resolved';
  message: string;
  effect?: Array<[string, string]>;
};

export type UncertainSend = {
  id: string;
  action: string;
  target?: string;
  /** When the send started (the intent), ISO. */
  since: string;
  detail: string;
  messageId?: string;
};

export type TaskRow = {
  id: string;
  domain: string;
  phase: string;
  owner?: string;
  title?: string;
  error?: string;
};

export type ActivityRecord = {
  timestamp: string;
  action_type: string;
  actor: string;
  target: string;
  result: string;
  task?: string;
  approval_status: string;
  approved_by: string | null;
  via?: string;
};

export type CostRow = {
  day: string;
  model: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Null when some call had no known price. */
  costUsd: number | null;
};

export type Briefing = { path: string; title: string; created?: string; body: string };

export type ChangeTopic = 'tasks' | 'activity' | 'overview';
export type ChangeEvent = { topics: ChangeTopic[]; at: string };
