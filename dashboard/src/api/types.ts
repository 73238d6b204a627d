/**
 * The API contract's types (core/ui-api.ts), imported type-only so zod never enters the bundle. The CSRF
 * header name is copied (the type check fails the build if it drifts); the phases come from core/phases.ts,
 * which imports nothing.
 */
import type { CSRF_HEADER as ApiCsrfHeader } from '../../../core/ui-api';

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

export { PHASES as PHASE_NAMES, type Phase } from '../../../core/phases';
