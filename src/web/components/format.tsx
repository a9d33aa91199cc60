// Times in the browser's zone with UTC on hover; sizes and durations as people read them.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** A moment in the browser's time zone; hovering shows it in UTC. */
export function Time({ at, relative: rel }: { at: string | null | undefined; relative?: boolean }) {
  if (!at) return <span className="muted">never</span>;
  const d = new Date(at);
  return (
    <time dateTime={d.toISOString()} title={`${d.toISOString().replace('T', ' ').slice(0, 19)} UTC`}>
      {rel ? ago(d) : dateTime.format(d)}
    </time>
  );
}

/** "3 hours ago", "in 2 days". */
export function ago(d: Date, now = Date.now()): string {
  const s = (d.getTime() - now) / 1000;
  const units: [Intl.RelativeTimeFormatUnit, number][] = [['year', 31536000], ['month', 2592000], ['day', 86400], ['hour', 3600], ['minute', 60]];
  for (const [unit, size] of units) if (Math.abs(s) >= size) return relative.format(Math.round(s / size), unit);
  return relative.format(Math.round(s), 'second');
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
