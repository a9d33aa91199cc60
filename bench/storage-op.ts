// One storage operation in its own process, so /usr/bin/time sees its peak RSS alone (a put
// first deletes what an earlier run left under the key):
//   node bench/storage-op.ts put|get '<storage options as JSON>' <key> <file>
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { storageSchema } from '../src/config/schema.ts';
import { openStorage } from '../src/storage/storage.ts';

const [op, options, key, file] = process.argv.slice(2) as [string, string, string, string];
const storage = await openStorage('bench', storageSchema.parse(JSON.parse(options)));
try {
  // Puts replace what an earlier run of the same measurement left.
  if (op === 'put') await storage.delete(key);
  if (op === 'put') await storage.put(key, createReadStream(file, { highWaterMark: 1 << 20 }));
  else await pipeline(await storage.get(key), createWriteStream(file));
} finally {
  await storage.close();
}
