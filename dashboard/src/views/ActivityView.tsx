import { useState } from 'react';
import type { ActivityRecord } from '../api/types';
import { useApi } from '../api/useApi';
import { LoadState } from '../components/LoadState';
import { RelativeTime } from '../components/RelativeTime';
import { TableScroller } from '../components/TableScroller';
import { revealHidden } from '../text';

const PAGE = 200;

/** The audit log, newest first (the server's order); "Show more" asks for a longer tail. */
export function ActivityView() {
  const [limit, setLimit] = useState(PAGE);
  const activity = useApi<ActivityRecord[]>(`/api/activity?limit=${limit}`, ['activity'], true);
  const records = activity.data ?? [];
  return (
    <>
      <h1 tabIndex={-1}>Activity</h1>
      <LoadState loading={activity.loading} error={activity.error} hasData={activity.data !== undefined} />
      {activity.data?.length === 0 && <p className="muted">No activity yet.</p>}
      {records.length > 0 && (
        <TableScroller label="Activity">
          <table>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Task</th>
                <th scope="col">Result</th>
                <th scope="col">Via</th>
              </tr>
            </thead>
            <tbody>
              {records.map((record, index) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: audit records have no id; the log only grows
                <tr key={`${record.timestamp}-${index}`} data-testid="activity-row">
                  <td className="nowrap">
                    <RelativeTime iso={record.timestamp} />
                  </td>
                  <td>{revealHidden(record.actor)}</td>
                  <td>{revealHidden(record.action_type)}</td>
                  <td>{revealHidden(record.target)}</td>
                  <td className="mono">{revealHidden(record.task)}</td>
                  <td>{revealHidden(record.result)}</td>
                  <td>{revealHidden(record.via)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroller>
      )}
      {records.length >= limit && (
        <button type="button" onClick={() => setLimit((n) => n + PAGE)} data-testid="show-more-activity">
          Show older records
        </button>
      )}
    </>
  );
}
