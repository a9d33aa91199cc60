// Preloaded into `lifeboat serve` by bench/api.bench.ts (node --import): reports the event
// loop's longest stall every 250 ms on stderr, as `loop-delay max=<ms> at=<ms since start>`, so
// the bench sees the server's own loop, not its own.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
const t0 = performance.now();
setInterval(() => {
  process.stderr.write(`loop-delay max=${(h.max / 1e6).toFixed(1)} at=${Math.round(performance.now() - t0)}\n`);
  h.reset();
}, 250).unref();
