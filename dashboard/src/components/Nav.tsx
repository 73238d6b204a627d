import { hrefFor, VIEWS, type ViewName } from '../router';

export function Nav({ current, pendingApprovals }: { current: ViewName; pendingApprovals?: number }) {
  return (
    <nav aria-label="Views" className="nav">
      <ul>
        {VIEWS.map((view) => (
          <li key={view.name}>
            <a
              href={hrefFor(view.name)}
              aria-current={view.name === current ? 'page' : undefined}
              data-testid={`nav-${view.name}`}
            >
              {view.label}
              {view.name === 'approvals' && pendingApprovals ? (
                <span className="badge">
                  {pendingApprovals}
                  <span className="visually-hidden"> waiting</span>
                </span>
              ) : null}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
