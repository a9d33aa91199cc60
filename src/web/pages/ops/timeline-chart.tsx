// Size and duration of a target's recent backups over time, drawn by uPlot (loaded with the
// dashboard's chart only, off the initial bundle). One page of the listing, newest first: a
// cheap question even with 10,000 backups in the catalog.
import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import { api, unwrap } from '../../api/client.ts';
import { formatBytes, formatDuration } from '../../components/format.tsx';
import { ProblemMessage } from '../../components/problem.tsx';

/** How many of a target's newest backups the chart shows. */
export const CHART_POINTS = 100;

export default function TimelineChart({ target }: { target: string }) {
  const backups = useQuery({
    queryKey: ['backups', 'timeline', target],
    queryFn: () => unwrap(api.GET('/api/v1/backups', { params: { query: { target, limit: CHART_POINTS, sort: 'startedAt', order: 'desc' } } })),
    staleTime: 60_000,
  });
  const { points, data } = useMemo(() => {
    const points = (backups.data?.items ?? []).filter((b) => b.size !== null && (b.status === 'ok' || b.status === 'degraded' || b.status === 'deleted')).reverse();
    const data: uPlot.AlignedData = [
      points.map((b) => Date.parse(b.startedAt) / 1000),
      points.map((b) => b.size),
      points.map((b) => (b.durationMs === null ? null : b.durationMs / 1000)),
    ];
    return { points, data };
  }, [backups.data]);
  if (backups.error) return <ProblemMessage error={backups.error} title="The chart could not load" />;
  if (backups.isPending) return <div className="chart-box muted small">Loading the chart…</div>;
  if (points.length < 2) return <p className="muted small">The chart of size and duration appears after two successful backups.</p>;
  const last = points.at(-1)!;
  return (
    <figure className="chart">
      <Plot data={data} label={`Size and duration of the last ${points.length} successful backups of ${target}`} />
      <figcaption className="muted small">
        Last {points.length} backups: size (line) and duration (dashed); the newest {formatBytes(last.size)} in {formatDuration(last.durationMs)}.
      </figcaption>
    </figure>
  );
}

function color(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function Plot({ data, label }: { data: uPlot.AlignedData; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let plot: uPlot | undefined;
    const make = () => {
      plot?.destroy();
      const text = color('--muted');
      const grid = color('--border');
      const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
      plot = new uPlot({
        width: Math.max(200, el.clientWidth),
        height: 140,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, size: { auto: true }, secs: { auto: true } },
        series: [
          {},
          { label: 'size', scale: 'size', stroke: color('--accent'), width: 2, value: (_u, v) => formatBytes(v) },
          { label: 'duration', scale: 'secs', stroke: color('--warn'), width: 1.5, dash: [5, 4], value: (_u, v) => (v === null ? '—' : formatDuration(v * 1000)) },
        ],
        axes: [
          { ...axis },
          { ...axis, scale: 'size', size: 60, values: (_u, vals) => vals.map((v) => formatBytes(v)) },
          { ...axis, scale: 'secs', side: 1, size: 50, grid: { show: false }, values: (_u, vals) => vals.map((v) => formatDuration(v * 1000)) },
        ],
      }, data, el);
    };
    make();
    const resize = new ResizeObserver(() => plot?.setSize({ width: Math.max(200, el.clientWidth), height: 140 }));
    resize.observe(el);
    // Colours come from the theme's variables: a change of theme redraws with the new ones.
    const themes = new MutationObserver(make);
    themes.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    const media = matchMedia('(prefers-color-scheme: dark)');
    media.addEventListener('change', make);
    return () => {
      resize.disconnect();
      themes.disconnect();
      media.removeEventListener('change', make);
      plot?.destroy();
    };
  }, [data, label]);
  return <div ref={box} className="chart-box" role="img" aria-label={label} />;
}
