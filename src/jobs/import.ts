import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { Catalog, Trust } from '../catalog/catalog.ts';
import { bundleSuffix, encrypt, formatFromName } from '../bundle/codec.ts';
import { verifyingKeys } from '../bundle/installation-key.ts';
import { checkMac, type MacKey } from '../bundle/mac.ts';
import { checkManifest, parseJson, type Manifest } from '../bundle/manifest.ts';
import { checkIntegrity, readInnerManifestText } from '../bundle/reader.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { EncryptionConfig } from '../config/schema.ts';
import { LifeboatError } from '../errors.ts';
import { openStorage } from '../storage/storage.ts';
import { sidecarKey } from '../bundle/names.ts';
import { summarize } from './backup.ts';
import { allKeys } from './rebuild.ts';

export interface ImportOptions {
  /** The storage to put it in; default: the primary storage of the bundle's target. */
  storage?: string;
  /** The key of the installation that made it (its `lifeboat key export`, or its age identity). */
  key?: MacKey;
  /** Catalog it even though no key vouches for it: as untrusted. */
  trustForeign?: boolean;
  signal?: AbortSignal;
}

export interface ImportResult {
  id: string;
  storage: string;
  key: string;
  trust: Trust;
  trustReason: string | null;
}

/**
 * Brings a bundle made elsewhere (another server, a copy kept offline) into a storage and the
 * catalog. Its checksums are checked first; it is trusted when this installation's keys or
 * `key` vouch for its manifest, otherwise imported only with `trustForeign`, as untrusted.
 */
export async function importBundle(loaded: LoadedConfig, catalog: Catalog, file: string, options: ImportOptions = {}): Promise<ImportResult> {
  const name = path.basename(file);
  const { algorithm, encrypted } = formatFromName(name);
  const keys = allKeys(loaded);
  const integrity = await checkIntegrity(createReadStream(file), name, keys);
  if (!integrity.ok) throw new LifeboatError('E_BUNDLE_CORRUPT', `${name} is damaged: ${integrity.problems.join('; ')}`, { hint: 'nothing was imported' });
  const text = await readInnerManifestText(createReadStream(file), name, keys);
  const raw = parseJson(text, `${name}: manifest.json`);
  const manifest = checkManifest(raw, `${name}: manifest.json`);

  const verdict = checkMac(raw, [...verifyingKeys(loaded), ...(options.key ? [options.key] : [])]);
  if (!verdict.trusted && !options.trustForeign) {
    throw new LifeboatError('E_RESTORE_CHECK', `${name} is not vouched for by any key this installation holds: ${verdict.reason}`, {
      hint: 'pass --key with the key of the installation that made it (its `lifeboat key export`, or the age identity), or --trust-foreign to import it as untrusted',
    });
  }
  if (catalog.backupExists(manifest.id)) throw new LifeboatError('E_USAGE', `backup ${manifest.id} is in the catalog already`, { hint: '`lifeboat show` it; nothing was imported' });
  const storageName = options.storage ?? loaded.config.targets[manifest.target]?.storage.primary;
  if (!storageName) throw new LifeboatError('E_USAGE', `target "${manifest.target}" of ${manifest.id} is not in ${loaded.file}: say where to put it with --storage`);
  const config = loaded.config.storages[storageName];
  if (!config) throw new LifeboatError('E_NOT_FOUND', `no storage named "${storageName}"`, { hint: `configured storages: ${Object.keys(loaded.config.storages).join(', ')}` });

  const key = `${manifest.target}/${manifest.id}${bundleSuffix(algorithm, encrypted)}`;
  const storage = await openStorage(storageName, config);
  try {
    if (await storage.stat(key)) throw new LifeboatError('E_USAGE', `storage "${storageName}" holds ${key} already`, { hint: 'run `lifeboat catalog rebuild` to catalog what storage holds' });
    const hash = createHash('sha256');
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const { size } = await storage.put(key, createReadStream(file).pipe(hashing), { signal: options.signal });
    const sidecar = await sidecarBody(text, manifest, loaded);
    if (sidecar) await storage.put(sidecarKey(key), sidecar, { signal: options.signal });
    const trust = verdict.trusted ? { trust: 'trusted' as const, reason: null } : { trust: 'untrusted' as const, reason: verdict.reason };
    catalog.importBackup(manifest, {
      storage: storageName, key, size, sha256: hash.digest('hex'), trust,
      summary: summarize(manifest, Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt)),
    });
    return { id: manifest.id, storage: storageName, key, trust: trust.trust, trustReason: trust.reason };
  } finally {
    await storage.close();
  }
}

/**
 * The sidecar, encrypted like the bundle: to its recipients (public, in the manifest), or with
 * the target's passphrase. Without one, none is written: a rebuild reads the manifest inside.
 */
async function sidecarBody(text: string, m: Manifest, loaded: LoadedConfig): Promise<Readable | undefined> {
  const body = Readable.from([Buffer.from(text)]);
  if (m.encryption.kind === 'none') return body;
  let config: EncryptionConfig | undefined;
  if (m.encryption.kind === 'recipients') config = { recipients: m.encryption.recipients };
  else {
    const own = loaded.config.targets[m.target]?.encryption;
    if (own && 'passphrase' in own) config = own;
  }
  return config ? encrypt(body, config) : undefined;
}
