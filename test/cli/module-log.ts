// Loaded with `node --import` by lazy-load.test.ts: writes the URL of every module the process
// loaded (ESM and CommonJS, Node's built-ins left out) to $LIFEBOAT_MODULE_LOG when it exits.
// Counts what was loaded, not how long it took, so a busy machine cannot change the result.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const loaded = new Set<string>();
registerHooks({
  load(url, context, nextLoad) {
    if (!url.startsWith('node:')) loaded.add(url);
    return nextLoad(url, context);
  },
});
process.on('exit', () => {
  if (process.env.LIFEBOAT_MODULE_LOG) writeFileSync(process.env.LIFEBOAT_MODULE_LOG, [...loaded].join('\n') + '\n');
});
