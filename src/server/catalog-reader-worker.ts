// The worker thread of catalog-reader.ts: its own connection to the catalog, answering pages of
// the backup list as UTF-8 bytes (moved to the main thread, not copied), which keeps the pages
// of questions asked again.
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { Catalog } from '../catalog/catalog.ts';
import { LifeboatError } from '../errors.ts';
import { backupsPageText, type BackupQuery } from '../reports/backups.ts';
import type { ReaderAnswer, ReaderAsk } from './catalog-reader.ts';

const catalog = Catalog.open(path.dirname((workerData as { file: string }).file));
const encoder = new TextEncoder();
const port = parentPort!;

port.on('message', (ask: ReaderAsk | 'close') => {
  if (ask === 'close') {
    // The connection closed here, not left to the thread's end: nothing else holds the thread.
    catalog.close();
    port.close();
    return;
  }
  let answer: ReaderAnswer;
  try {
    const bytes = encoder.encode(backupsPageText(catalog, ask.query as BackupQuery));
    answer = { id: ask.id, bytes };
    port.postMessage(answer, [bytes.buffer]);
    return;
  } catch (err) {
    const e = err instanceof LifeboatError ? err : undefined;
    answer = { id: ask.id, error: { code: e?.code ?? 'E_INTERNAL', message: (err as Error).message, hint: e?.hint } };
  }
  port.postMessage(answer);
});
port.postMessage({ ready: true });
