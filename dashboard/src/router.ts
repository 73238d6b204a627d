import { useEffect, useState } from 'react';

/** A tiny hash router: `#/approvals`, `#/approvals/<id>`, `#/tasks`, ... (the server only serves `/`). */

export const VIEWS = [
  { name: 'overview', label: 'Overview' },
  { name: 'approvals', label: 'Approvals' },
  { name: 'uncertain', label: 'Uncertain sends' },
  { name: 'tasks', label: 'Tasks' },
  { name: 'activity', label: 'Activity' },
  { name: 'costs', label: 'Costs' },
  { name: 'briefings', label: 'Briefings' },
] as const;

export type ViewName = (typeof VIEWS)[number]['name'];
export type Route = { view: ViewName; id?: string };

const DEFAULT_ROUTE: Route = { view: 'overview' };

function isView(name: string): name is ViewName {
  return VIEWS.some((view) => view.name === name);
}

/** Null for a hash that is not a route (an in-page anchor): the current view stays. */
export function parseHash(hash: string): Route | null {
  if (hash === '' || hash === '#' || hash === '#/') return DEFAULT_ROUTE;
  if (!hash.startsWith('#/')) return null;
  const [name = '', ...rest] = hash.slice(2).split('/');
  if (!isView(name)) return DEFAULT_ROUTE;
  if (rest.length === 0 || rest.join('/') === '') return { view: name };
  try {
    return { view: name, id: decodeURIComponent(rest.join('/')) };
  } catch {
    return { view: name };
  }
}

export function hrefFor(view: ViewName, id?: string): string {
  return id === undefined ? `#/${view}` : `#/${view}/${encodeURIComponent(id)}`;
}

export function navigate(view: ViewName, id?: string): void {
  window.location.hash = hrefFor(view, id);
}

export function useHashRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseHash(window.location.hash) ?? DEFAULT_ROUTE);
  useEffect(() => {
    const onChange = () => {
      const next = parseHash(window.location.hash);
      if (next) setRoute(next);
    };
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
