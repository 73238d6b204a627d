/**
 * The fte status page: one hash-routed React app over the API in core/ui-api.ts.
 *
 * Every text it shows may come from a compromised cloud: it is rendered as React text only (no
 * dangerouslySetInnerHTML, no links built from vault data, no markdown rendering); see text.ts for the
 * invisible characters it makes visible.
 *
 * Stable test hooks (data-testid):
 *   shell        nav-<view> (overview, approvals, uncertain, tasks, activity, costs, briefings),
 *                live-status, reconnect-button, sign-out-button, readonly-notice
 *   login        login-form, login-secret, login-submit
 *   overview     phase-count-<Phase> (one per PHASE_NAMES entry), alert-item (data-kind=<AlertKind>),
 *                sync-state, agent-row-<name>
 *   approvals    approval-row-<id>, approval-detail, effect-table, effect-row, approval-problem,
 *                approval-changed, approval-reviewed-button, draft-body, draft-editor, original-message,
 *                approve-button, edit-button, approve-edited-button, cancel-edit-button, reject-button,
 *                reject-reason, reject-confirm, reject-cancel, decision-message (aria-live), keyboard-hint
 *   uncertain    uncertain-row-<id>, resolve-sent-<id>, resolve-not-sent-<id>, then the confirm step's
 *                resolve-confirm-<id> / resolve-cancel-<id>; resolve-message (aria-live)
 *   tasks        task-filter-domain, task-filter-phase, task-filter-owner, task-search, task-count,
 *                task-row-<id>, show-more-tasks
 *   activity     activity-row, show-more-activity
 *   costs        cost-chart, cost-table, cost-row-<day>, model-table
 *   briefings    briefing-item, briefings-empty
 */
import { useEffect, useRef } from 'react';
import { postJson } from './api/http';
import { LiveProvider, useLive } from './api/live';
import { SessionProvider, useSession, useSessionApi } from './api/session';
import type { ApprovalSummary } from './api/types';
import { useApi } from './api/useApi';
import { LoginForm } from './components/LoginForm';
import { Nav } from './components/Nav';
import { type Route, useHashRoute } from './router';
import { revealHidden } from './text';
import { ActivityView } from './views/ActivityView';
import { ApprovalsView } from './views/ApprovalsView';
import { BriefingsView } from './views/BriefingsView';
import { CostsView } from './views/CostsView';
import { OverviewView } from './views/OverviewView';
import { TasksView } from './views/TasksView';
import { UncertainView } from './views/UncertainView';

export function App() {
  return (
    <SessionProvider>
      <SessionGate />
    </SessionProvider>
  );
}

/** The session decides: loading, the login form, or the page (with its one event stream). */
function SessionGate() {
  const { state, refresh } = useSessionApi();
  if (state.kind === 'loading') {
    return (
      <main id="main" className="login">
        <h1>fte status</h1>
        <p className="muted">Loading…</p>
      </main>
    );
  }
  if (state.kind === 'failed') {
    return (
      <main id="main" className="login">
        <h1>fte status</h1>
        <p className="notice notice-error" role="alert">
          Cannot reach the executor: {state.error}
        </p>
        <button type="button" onClick={refresh}>
          Try again
        </button>
      </main>
    );
  }
  const { session } = state;
  if (session.authRequired && !session.authenticated) {
    return <LoginForm csrf={session.csrf} onSignedIn={refresh} />;
  }
  return (
    <LiveProvider>
      <Layout />
    </LiveProvider>
  );
}

function Layout() {
  const route = useHashRoute();
  const approvals = useApi<ApprovalSummary[]>('/api/approvals', ['tasks']);
  const main = useRef<HTMLElement>(null);
  const firstView = useRef(true);

  // A new view moves focus to its heading, as a page load would (not on the first load).
  useEffect(() => {
    void route.view;
    if (firstView.current) {
      firstView.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route.view]);

  return (
    <>
      {/* biome-ignore lint/a11y/useValidAnchor: the hash is the router's, so the skip link moves focus itself */}
      <a
        className="skip-link"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="site-header">
        <SessionBar />
        <Nav current={route.view} pendingApprovals={approvals.data?.length} />
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <CurrentView route={route} />
      </main>
    </>
  );
}

function CurrentView({ route }: { route: Route }) {
  switch (route.view) {
    case 'overview':
      return <OverviewView />;
    case 'approvals':
      return <ApprovalsView selectedId={route.id} />;
    case 'uncertain':
      return <UncertainView />;
    case 'tasks':
      return <TasksView />;
    case 'activity':
      return <ActivityView />;
    case 'costs':
      return <CostsView />;
    case 'briefings':
      return <BriefingsView />;
  }
}

const LIVE_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  stopped: 'Live updates stopped',
} as const;

/** Who and where: the agent, local or cluster (read-only), the event stream, sign-out. */
function SessionBar() {
  const session = useSession();
  const { refresh } = useSessionApi();
  const { status, reconnect } = useLive();
  const signOut = async () => {
    try {
      await postJson('/api/logout', {}, session.csrf);
    } finally {
      refresh();
    }
  };
  return (
    <div className="session-bar">
      <span className="brand">fte</span>
      <span className="muted">
        {revealHidden(session.agent)} · {session.mode === 'cluster' ? 'cluster (read-only)' : 'this laptop'}
      </span>
      <span className={`live-status live-${status}`} data-testid="live-status">
        {LIVE_TEXT[status]}
      </span>
      {status === 'stopped' && (
        <button type="button" className="small" onClick={reconnect} data-testid="reconnect-button">
          Reconnect
        </button>
      )}
      {session.authRequired && (
        <button type="button" className="small" onClick={() => void signOut()} data-testid="sign-out-button">
          Sign out
        </button>
      )}
    </div>
  );
}
