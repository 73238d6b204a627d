import type { AgentBeat, Alert, AlertKind, Overview } from '../api/types';
import { PHASE_NAMES } from '../api/types';
import { useApi } from '../api/useApi';
import { LoadState } from '../components/LoadState';
import { RelativeTime } from '../components/RelativeTime';
import { TableScroller } from '../components/TableScroller';
import { phaseLabel, revealHidden } from '../text';
import { formatDuration } from '../time';

export function OverviewView() {
  const overview = useApi<Overview>('/api/overview', ['tasks', 'overview']);
  const data = overview.data;
  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      <LoadState loading={overview.loading} error={overview.error} hasData={data !== undefined} />
      {data && (
        <>
          <AlertList alerts={data.alerts} />
          <PhaseCounts counts={data.counts} />
          <SyncState sync={data.sync} />
          <AgentList agents={data.agents} />
        </>
      )}
    </>
  );
}

const CRITICAL: ReadonlySet<AlertKind> = new Set([
  'remote_refused',
  'history_rewritten',
  'uncertain',
  'failed',
  'mail_login',
]);

function AlertList({ alerts }: { alerts: Alert[] }) {
  return (
    <section aria-labelledby="alerts-heading">
      <h2 id="alerts-heading">Alerts</h2>
      {alerts.length === 0 ? (
        <p className="muted">No alerts.</p>
      ) : (
        <ul className="alerts">
          {alerts.map((alert, index) => {
            const severity = CRITICAL.has(alert.kind) ? 'critical' : 'warning';
            return (
              <li
                // biome-ignore lint/suspicious/noArrayIndexKey: alerts have no id; their order is the server's
                key={index}
                className={`alert alert-${severity}`}
                data-testid="alert-item"
                data-kind={alert.kind}
              >
                <span className="alert-kind">{severity === 'critical' ? 'Critical' : 'Warning'}</span>
                <span className="alert-message">{revealHidden(alert.message)}</span>
                {alert.task && <span className="muted"> (task {revealHidden(alert.task)})</span>}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

function PhaseCounts({ counts }: { counts: Record<string, number> }) {
  const extra = Object.keys(counts).filter((phase) => !(PHASE_NAMES as readonly string[]).includes(phase));
  return (
    <section aria-labelledby="phases-heading">
      <h2 id="phases-heading">Tasks by phase</h2>
      <ul className="phase-counts">
        {[...PHASE_NAMES, ...extra].map((phase) => (
          <li key={phase} data-testid={`phase-count-${phase}`}>
            <span className="phase-count-number">{counts[phase] ?? 0}</span>
            <span className="phase-count-label">{phaseLabel(phase)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function SyncState({ sync }: { sync: Overview['sync'] }) {
  return (
    <section aria-labelledby="sync-heading">
      <h2 id="sync-heading">Sync</h2>
      <dl className="facts" data-testid="sync-state">
        <dt>State</dt>
        <dd>{revealHidden(sync.state)}</dd>
        <dt>Last received</dt>
        <dd>
          <RelativeTime iso={sync.lastReceived} />
        </dd>
        <dt>Lag</dt>
        <dd>{sync.lagSeconds === undefined ? 'unknown' : formatDuration(sync.lagSeconds)}</dd>
        <dt>Last sync</dt>
        <dd>
          <RelativeTime iso={sync.lastSync} />
        </dd>
        {sync.error && (
          <>
            <dt>Error</dt>
            <dd className="text-danger">{revealHidden(sync.error)}</dd>
          </>
        )}
      </dl>
    </section>
  );
}

function AgentList({ agents }: { agents: AgentBeat[] }) {
  return (
    <section aria-labelledby="agents-heading">
      <h2 id="agents-heading">Agents</h2>
      {agents.length === 0 ? (
        <p className="muted">No agent has reported yet.</p>
      ) : (
        <TableScroller label="Agent heartbeats">
          <table>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Last seen</th>
                <th scope="col">Summary</th>
              </tr>
            </thead>
            <tbody>
              {agents.map((agent) => (
                <tr key={agent.name} data-testid={`agent-row-${agent.name}`}>
                  <th scope="row">{revealHidden(agent.name)}</th>
                  <td>
                    <RelativeTime iso={agent.lastSeen} />
                  </td>
                  <td>{revealHidden(agent.summary)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroller>
      )}
    </section>
  );
}
