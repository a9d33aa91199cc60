/**
 * For long synchronous work on the daemon's thread, which the HTTP API shares: `await slice()`
 * between steps lets the event loop in (setImmediate) once `sliceMs` have passed since it last
 * did, so a request waits at most about that long, and short work pays no turn at all.
 */
export function timeSlicer(sliceMs = 20): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    since = performance.now();
  };
}
