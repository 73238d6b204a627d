import { useMemo, useState } from 'react';
import { PHASE_NAMES, type TaskRow } from '../api/types';
import { useApi } from '../api/useApi';
import { LoadState } from '../components/LoadState';
import { TableScroller } from '../components/TableScroller';
import { phaseLabel, revealHidden } from '../text';

const PAGE = 200;
const ALL = '';
const NO_OWNER = '\u0000none';

type Filters = { domain: string; phase: string; owner: string; search: string };

function distinct(values: Array<string | undefined>): string[] {
  return [...new Set(values.filter((value): value is string => value !== undefined && value !== ''))].sort();
}

function phaseOrder(phases: string[]): string[] {
  const known = PHASE_NAMES.filter((phase) => phases.includes(phase));
  return [...known, ...phases.filter((phase) => !(PHASE_NAMES as readonly string[]).includes(phase))];
}

function matches(task: TaskRow, filters: Filters): boolean {
  if (filters.domain !== ALL && task.domain !== filters.domain) return false;
  if (filters.phase !== ALL && task.phase !== filters.phase) return false;
  if (filters.owner === NO_OWNER ? task.owner : filters.owner !== ALL && task.owner !== filters.owner)
    return false;
  const needle = filters.search.trim().toLowerCase();
  if (needle === '') return true;
  return task.id.toLowerCase().includes(needle) || (task.title ?? '').toLowerCase().includes(needle);
}

/** Every task: filter by domain, phase and owner, search id and title; rows render a page at a time. */
export function TasksView() {
  const tasks = useApi<TaskRow[]>('/api/tasks', ['tasks']);
  const [filters, setFilters] = useState<Filters>({ domain: ALL, phase: ALL, owner: ALL, search: '' });
  const [shown, setShown] = useState(PAGE);
  const all = tasks.data ?? [];

  const options = useMemo(
    () => ({
      domains: distinct(all.map((task) => task.domain)),
      phases: phaseOrder(distinct(all.map((task) => task.phase))),
      owners: distinct(all.map((task) => task.owner)),
    }),
    [all],
  );
  const filtered = useMemo(() => all.filter((task) => matches(task, filters)), [all, filters]);
  const update = (change: Partial<Filters>) => {
    setFilters((current) => ({ ...current, ...change }));
    setShown(PAGE);
  };

  return (
    <>
      <h1 tabIndex={-1}>Tasks</h1>
      <LoadState loading={tasks.loading} error={tasks.error} hasData={tasks.data !== undefined} />
      <search className="filters" aria-label="Filter tasks">
        <FilterSelect
          id="task-filter-domain"
          label="Domain"
          allLabel="All domains"
          value={filters.domain}
          options={options.domains.map((domain) => ({ value: domain, label: revealHidden(domain) }))}
          onChange={(domain) => update({ domain })}
        />
        <FilterSelect
          id="task-filter-phase"
          label="Phase"
          allLabel="All phases"
          value={filters.phase}
          options={options.phases.map((phase) => ({ value: phase, label: phaseLabel(revealHidden(phase)) }))}
          onChange={(phase) => update({ phase })}
        />
        <FilterSelect
          id="task-filter-owner"
          label="Owner"
          allLabel="All owners"
          value={filters.owner}
          options={[
            ...options.owners.map((owner) => ({ value: owner, label: revealHidden(owner) })),
            { value: NO_OWNER, label: 'No owner' },
          ]}
          onChange={(owner) => update({ owner })}
        />
        <div className="field">
          <label htmlFor="task-search">Search id or title</label>
          <input
            id="task-search"
            type="search"
            value={filters.search}
            onChange={(event) => update({ search: event.target.value })}
            data-testid="task-search"
          />
        </div>
      </search>
      <p className="muted" aria-live="polite" data-testid="task-count">
        {filtered.length === all.length
          ? `${all.length} tasks`
          : `${filtered.length} of ${all.length} tasks match`}
        {filtered.length > shown ? `; showing the first ${shown}` : ''}
      </p>
      {filtered.length > 0 && <TaskTable tasks={filtered.slice(0, shown)} />}
      {filtered.length > shown && (
        <button type="button" onClick={() => setShown((count) => count + PAGE)} data-testid="show-more-tasks">
          Show {Math.min(PAGE, filtered.length - shown)} more
        </button>
      )}
    </>
  );
}

function FilterSelect(props: {
  id: string;
  label: string;
  allLabel: string;
  value: string;
  options: Array<{ value: string; label: string }>;
  onChange: (value: string) => void;
}) {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <select
        id={props.id}
        value={props.value}
        onChange={(event) => props.onChange(event.target.value)}
        data-testid={props.id}
      >
        <option value={ALL}>{props.allLabel}</option>
        {props.options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}

function TaskTable({ tasks }: { tasks: TaskRow[] }) {
  return (
    <TableScroller label="Tasks">
      <table className="tasks-table">
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Title</th>
            <th scope="col">Domain</th>
            <th scope="col">Phase</th>
            <th scope="col">Owner</th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((task) => (
            <tr key={`${task.phase}/${task.id}`} data-testid={`task-row-${task.id}`}>
              <th scope="row" className="mono">
                {revealHidden(task.id)}
              </th>
              <td>
                {revealHidden(task.title)}
                {task.error && <span className="task-error"> Error: {revealHidden(task.error)}</span>}
              </td>
              <td>{revealHidden(task.domain)}</td>
              <td>{phaseLabel(revealHidden(task.phase))}</td>
              <td>{revealHidden(task.owner) || <span className="muted">none</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroller>
  );
}
