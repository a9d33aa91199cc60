// Preloaded into `lifeboat serve` by bench/api.bench.ts (node --import): reports the garbage
// collector's pauses every second on stderr, as `gc young=<n>/<ms>/<longest ms> full=<n>/<ms>/<longest ms>`
// (young: scavenges; full: mark-compact and its incremental steps), so a latency tail can be
// told apart from the collector's.
import { constants, PerformanceObserver } from 'node:perf_hooks';

const young = { n: 0, ms: 0, max: 0 };
const full = { n: 0, ms: 0, max: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    const s = kind === constants.NODE_PERFORMANCE_GC_MINOR ? young : full;
    s.n++;
    s.ms += e.duration;
    s.max = Math.max(s.max, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
const line = (s: typeof young) => `${s.n}/${s.ms.toFixed(1)}/${s.max.toFixed(1)}`;
setInterval(() => {
  process.stderr.write(`gc young=${line(young)} full=${line(full)}\n`);
  for (const s of [young, full]) s.n = s.ms = s.max = 0;
}, 1000).unref();
