import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { encrypt, type DecryptionKeys } from '../../src/bundle/codec.ts';
import { serializeManifest, type Manifest } from '../../src/bundle/manifest.ts';
import { readBundle } from '../../src/bundle/reader.ts';
import { BundleWriter } from '../../src/bundle/writer.ts';
import type { EncryptionConfig } from '../../src/config/schema.ts';

/**
 * Rewrites a stored bundle as someone with write access to the storage could: the same members
 * (so every checksum still matches), a manifest changed by `edit` (given the manifest with the
 * members as rewritten), encrypted to `encryption` when set. The sidecar gets the same manifest.
 */
export async function repack(
  file: string,
  options: { keys?: DecryptionKeys; encryption?: EncryptionConfig; edit: (m: Manifest) => Manifest; sidecarText?: (text: string) => string },
): Promise<Manifest> {
  const keys = options.keys ?? { identities: [], passphrases: [] };
  const entries: { name: string; type: string; data: Buffer; mode: number; mtime: Date; linkname?: string }[] = [];
  let original: Manifest | undefined;
  for await (const e of readBundle(Readable.from([readFileSync(file)]), path.basename(file), keys)) {
    const chunks: Buffer[] = [];
    for await (const c of e.stream) chunks.push(c);
    if (e.name === 'manifest.json') original = JSON.parse(Buffer.concat(chunks).toString()) as Manifest;
    else entries.push({ name: e.name, type: e.type, data: Buffer.concat(chunks), mode: e.mode, mtime: e.mtime, linkname: e.linkname });
  }
  const writer = await BundleWriter.create(original!.compression, options.encryption);
  const out: Buffer[] = [];
  const collecting = (async () => {
    for await (const c of writer.output) out.push(c as Buffer);
  })();
  for (const e of entries) {
    if (e.type === 'directory') await writer.addSpecial(e.name, 'directory', { mode: e.mode, mtime: e.mtime });
    else if (e.type === 'symlink') await writer.addSpecial(e.name, 'symlink', { mode: e.mode, mtime: e.mtime, linkname: e.linkname });
    else await writer.addBuffer(e.name, e.data, { mode: e.mode, mtime: e.mtime });
  }
  const { members: _m, ...rest } = original!;
  void _m;
  const manifest = await writer.finish(rest, options.edit);
  await collecting;
  writeFileSync(file, Buffer.concat(out));
  let text = serializeManifest(manifest);
  if (options.sidecarText) text = options.sidecarText(text);
  const body = options.encryption ? await encrypt(Readable.from([Buffer.from(text)]), options.encryption) : Readable.from([Buffer.from(text)]);
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  writeFileSync(`${file}.manifest.json`, Buffer.concat(chunks));
  return manifest;
}
