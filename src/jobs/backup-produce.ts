// The bundle's members in order: the restore kit, the dumps (read in the dump's own snapshot),
// the files, the app's metadata, and last the manifest that vouches for all of them.

import { createReadStream } from 'node:fs';
import { hostname, platform } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { FileEntry } from '../bundle/file-sets.ts';
import { signingKey } from '../bundle/installation-key.ts';
import { signManifest } from '../bundle/mac.ts';
import type { DatabaseManifest, FileRecord, Manifest } from '../bundle/manifest.ts';
import { dumpMemberName } from '../bundle/names.ts';
import { readmeText, restoreScript, type KitInfo } from '../bundle/restore-kit.ts';
import { RESTORE_INDEX_MEMBER, restoreIndex } from '../bundle/restore-kit/restore-index.ts';
import { ShortReadError, type BundleWriter } from '../bundle/writer.ts';
import { LifeboatError } from '../errors.ts';
import { pgError, withDatabase } from '../postgres/connection.ts';
import { dumpGlobals, openSnapshot, pgDump } from '../postgres/dump.ts';
import { DumpIndexer } from '../postgres/dump-index.ts';
import { describeDatabase } from '../postgres/introspect.ts';
import type { AppItem, AppItems } from '../profiles/profile.ts';
import { VERSION } from '../version.ts';
import type { PgPlan, WriteContext } from './backup-context.ts';
import { tempRoot } from './resources.ts';

export async function produce(
  c: WriteContext,
  writer: BundleWriter,
  pgPlan: PgPlan | undefined,
  entries: FileEntry[],
  warnings: string[],
  skipped: { set: string; path: string; reason: string }[],
  onMember: (member: string) => void,
): Promise<Manifest> {
  const { target, job } = c;
  const signal = job.signal;
  const kit: KitInfo = {
    id: c.id,
    target: c.targetName,
    bundleName: c.bundleName,
    algorithm: target.compression.algorithm,
    encrypted: target.encryption !== undefined,
    databases: pgPlan?.databases.map((d) => encodeURIComponent(d.name)) ?? [],
    globals: target.postgres?.globals ?? false,
    fileSets: [...new Set(entries.map((e) => e.set))],
  };
  await writer.addBuffer('README.txt', Buffer.from(readmeText(kit)));
  await writer.addBuffer('restore.sh', Buffer.from(restoreScript(kit)), { mode: 0o755 });

  const databases: DatabaseManifest[] = [];
  const appItems: AppItem[] = [];
  const migrations: NonNullable<AppItems['migrations']> = [];
  const metadata: Record<string, unknown[]> = {};
  const appInfo: Record<string, unknown> = {};
  let appProfile = c.profile.name === 'auto' ? 'generic' : c.profile.name;
  if (pgPlan) {
    if (target.postgres?.globals) {
      onMember('databases/globals.sql');
      const globals = await dumpGlobals(pgPlan.tools, withDatabase(pgPlan.endpoint, pgPlan.databases[0]?.name ?? 'postgres'), signal);
      if (globals.warning) {
        warnings.push(globals.warning);
        job.log('warn', globals.warning);
      }
      await writer.addBuffer('databases/globals.sql', globals.sql);
    }
    for (const db of pgPlan.databases) {
      signal.throwIfAborted();
      const endpoint = withDatabase(pgPlan.endpoint, db.name);
      const member = dumpMemberName(db.name);
      onMember(member);
      const snapshot = await openSnapshot(endpoint);
      try {
        const excluded = c.profile.excludedData?.(target);
        const dump = await pgDump(pgPlan.tools, endpoint, snapshot.id, signal, excluded?.patterns.map((p) => `--exclude-table-data=${p}`), tempRoot(c.loaded));
        // Counting runs beside the dump, on the connection that holds the snapshot.
        const described = describeDatabase(snapshot.client, signal).then(async (info) => ({
          info,
          app: await c.profile.readDatabase({ database: db.name, client: snapshot.client, signal, target, configDir: path.dirname(c.loaded.file) }),
        }));
        // A failure there ends the snapshot's transaction, and pg_dump then fails to import it: the
        // first failure is the one to report.
        let describeFailure: unknown;
        described.catch((err: unknown) => (describeFailure = err));
        // Where each table's data lies in the dump, so one table can be read back alone.
        const indexer = new DumpIndexer();
        let written;
        try {
          written = await writer.addUnknownLength(member, (into, onBytes) => dump.fill(into, (piece) => {
            indexer.push(piece);
            onBytes?.(piece);
          }), c.partSize);
        } finally {
          dump.close();
        }
        await dump.done.catch((err: unknown) => Promise.reject(describeFailure ?? err));
        const dumpIndex = indexer.result();
        if (!dumpIndex) job.log('info', `no table index for the dump of ${db.name}: restoring one table will read the whole dump`);
        const { info, app } = await described;
        for (const t of info.tables) {
          if (excluded?.matches(t.schema, t.name)) Object.assign(t, { rows: 0, dataExcluded: true });
        }
        databases.push({ ...info, dumpMembers: written.members, dumpSize: written.size, dumpSha256: written.sha256, ...(dumpIndex ? { dumpIndex } : {}) });
        appItems.push(...app.items);
        migrations.push(...(app.migrations ?? []));
        if (app.info) Object.assign(appInfo, app.info);
        if (app.profile) appProfile = app.profile;
        for (const w of app.warnings ?? []) {
          warnings.push(w);
          job.log('warn', w);
        }
        for (const [name, doc] of Object.entries(app.metadata ?? {})) (metadata[name] ??= []).push(doc);
        const rows = info.tables.reduce((n, t) => n + (t.rows ?? 0), 0);
        job.log('info', `dumped ${db.name}: ${info.tables.length} tables, ${rows} rows, ${written.size} bytes`);
      } catch (err) {
        throw err instanceof LifeboatError ? err : pgError(err, endpoint);
      } finally {
        await snapshot.close();
      }
    }
  }

  const files: FileRecord[] = [];
  for (const entry of entries) {
    signal.throwIfAborted();
    const meta = { mode: entry.stat.mode & 0o7777, mtime: entry.stat.mtime, uid: entry.stat.uid, gid: entry.stat.gid };
    const record: FileRecord = {
      set: entry.set, path: entry.path, member: entry.member, type: entry.type, mode: meta.mode,
      uid: meta.uid, gid: meta.gid, size: entry.type === 'file' ? entry.stat.size : 0, mtime: entry.stat.mtime.toISOString(),
    };
    if (entry.type === 'directory') {
      await writer.addSpecial(entry.member, 'directory', meta);
    } else if (entry.type === 'symlink') {
      await writer.addSpecial(entry.member, 'symlink', { ...meta, linkname: entry.linkTarget });
      record.linkTarget = entry.linkTarget;
    } else {
      onMember(entry.member);
      const source = entry.stat.size > 0 ? createReadStream(entry.source ?? entry.path, { end: entry.stat.size - 1, signal }) : Readable.from([]);
      try {
        const m = await writer.addStream(entry.member, entry.stat.size, source, meta);
        record.sha256 = m.sha256;
      } catch (err) {
        if (!(err instanceof ShortReadError)) throw err;
        record.sha256 = writer.members.at(-1)!.sha256;
        const line = `${entry.path} shrank while it was read; the copy is padded and may be inconsistent`;
        warnings.push(line);
        job.log('warn', line);
      }
      writer.onBytes?.(entry.stat.size);
    }
    files.push(record);
  }

  const metadataMembers: string[] = [];
  for (const [name, docs] of Object.entries(metadata)) {
    const member = `metadata/${name}.json`;
    await writer.addBuffer(member, Buffer.from(JSON.stringify(docs.length === 1 ? docs[0] : docs, null, 2)));
    metadataMembers.push(member);
  }
  const systemInfo = {
    hostname: hostname(), platform: platform(), node: process.version, lifeboat: VERSION,
    postgres: pgPlan && { serverVersion: pgPlan.serverVersion, pgDump: pgPlan.tools.version },
  };
  await writer.addBuffer('metadata/system_info.json', Buffer.from(JSON.stringify(systemInfo, null, 2)));
  metadataMembers.push('metadata/system_info.json');

  const postgres = pgPlan && { serverVersion: pgPlan.serverVersion, pgDumpVersion: pgPlan.tools.version, globals: target.postgres?.globals ?? false, databases };
  // Last before the manifest, so that it lists every member but itself.
  await writer.addBuffer(RESTORE_INDEX_MEMBER, Buffer.from(restoreIndex({ id: c.id, target: c.targetName, startedAt: c.started.toISOString(), postgres, files, members: writer.members })));

  onMember('manifest.json');
  const macKey = await signingKey(c.loaded, target);
  return writer.finish({
    format: 'lifeboat-bundle',
    formatVersion: 1,
    id: c.id,
    target: c.targetName,
    lifeboatVersion: VERSION,
    startedAt: c.started.toISOString(),
    finishedAt: c.now().toISOString(),
    host: { hostname: hostname(), platform: platform() },
    profile: appProfile,
    compression: { algorithm: target.compression.algorithm, level: target.compression.level },
    encryption: !target.encryption
      ? { kind: 'none' }
      : 'passphrase' in target.encryption
        ? { kind: 'passphrase' }
        : { kind: 'recipients', recipients: target.encryption.recipients },
    postgres,
    files,
    skipped,
    app: { profile: appProfile, items: appItems, migrations: migrations.length ? migrations : undefined, metadataMembers, info: Object.keys(appInfo).length ? appInfo : undefined },
    warnings,
  }, (m) => signManifest(m, macKey));
}
