import type { ReactNode } from 'react';

/** A wide table scrolls inside this box, never the page; focusable so keyboards can scroll it. */
export function TableScroller({ label, children }: { label: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
    <section className="table-scroller" tabIndex={0} aria-label={label}>
      {children}
    </section>
  );
}
