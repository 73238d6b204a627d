/**
 * The API contract's types (core/ui-api.ts), imported type-only so zod never enters the bundle. The two
 * runtime values the page needs are copied here; the type checks below fail the build if they drift.
 */
import type { CSRF_HEADER as ApiCsrfHeader, PHASE_NAMES as ApiPhaseNames } from '../../../core/ui-api';

export type {
  ActivityRecord,
  AgentBeat,
  Alert,
  AlertKind,
  ApprovalDetail,
  ApprovalSummary,
  ApproveRequest,
  Briefing,
  ChangeEvent,
  ChangeTopic,
  CostRow,
  DecisionResult,
  LoginRequest,
  OriginalMessage,
  Overview,
  RejectRequest,
  ResolveRequest,
  SessionInfo,
  TaskRow,
  UncertainSend,
} from '../../../core/ui-api';

export const CSRF_HEADER = 'x-csrf-token' satisfies typeof ApiCsrfHeader;

export const PHASE_NAMES = [
  'NeedsAction',
  'InProgress',
  'PendingApproval',
  'Approved',
  'Executing',
  'Done',
  'Rejected',
  'Failed',
] as const satisfies typeof ApiPhaseNames;

export type Phase = (typeof PHASE_NAMES)[number];
