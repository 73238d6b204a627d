/** Times for people: "5 min ago", "in 2 h", with the ISO time kept for a title. */

export function parseTime(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A duration in words: 45 s, 12 min, 3 h 5 min, 2 d 4 h. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

export function relativeTime(iso: string | undefined, now: number): string {
  const at = parseTime(iso);
  if (at === undefined) return iso ? iso : 'never';
  const seconds = (now - at) / 1000;
  if (Math.abs(seconds) < 5) return 'just now';
  return seconds >= 0 ? `${formatDuration(seconds)} ago` : `in ${formatDuration(-seconds)}`;
}

export type Expiry = { text: string; urgent: boolean; expired: boolean };

/** "expires in 45 min" (urgent under an hour), or "expired 5 min ago". */
export function expiry(iso: string, now: number): Expiry {
  const at = parseTime(iso);
  if (at === undefined) return { text: `expires ${iso}`, urgent: true, expired: false };
  const seconds = (at - now) / 1000;
  if (seconds <= 0) return { text: `expired ${formatDuration(-seconds)} ago`, urgent: true, expired: true };
  return { text: `expires in ${formatDuration(seconds)}`, urgent: seconds < 3600, expired: false };
}

export function formatLocal(iso: string | undefined): string {
  const at = parseTime(iso);
  if (at === undefined) return iso ?? '';
  return new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
