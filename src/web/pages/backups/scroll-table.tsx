import type { ReactNode } from 'react';

/**
 * A table that scrolls sideways on a narrow screen. The wrapper is focusable and named, so a
 * keyboard can scroll it even when the table holds no link or button (axe: scrollable-region-focusable).
 */
export function ScrollTable({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
