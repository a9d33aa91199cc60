// Entry of Lifeboat's worker threads (src/server/catalog-reader.ts): the loader first, as the
// main thread's (bin/loader.js), then the thread's own module, named in workerData.module.
import { workerData } from 'node:worker_threads';
import { prepareLoader } from './loader.js';

await prepareLoader();
await import(workerData.module);
