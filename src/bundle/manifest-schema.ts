import { z } from 'zod';

/**
 * The zod schema of manifest.json. A manifest comes from storage, which anyone with write access
 * to it can change: every field a later step relies on is checked here, and names that end up in
 * paths, SQL or terminal output are held to an alphabet (see README, "Authenticated bundles").
 *
 * Objects are loose: a field this schema does not know (one a newer Lifeboat adds) is kept as it
 * is, so a manifest read back is the manifest that was written and its MAC still covers it. Add
 * new fields here to have them checked.
 */

/** Target and file-set names: the alphabet lifeboat.yaml allows. Both become path components. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
/** `<target>-<YYYYMMDDTHHMMSSZ>`, with `-2`, `-3`... for a second backup in the same second. */
const ID = /^([A-Za-z0-9][A-Za-z0-9_-]{0,62})-\d{8}T\d{6}Z(-\d{1,4})?$/;
/** C0 and C1 control characters and DEL: never part of a name a person is shown or a path. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const SHA256 = /^[0-9a-f]{64}$/;

const name = z.string().regex(NAME, 'a name of letters, digits, "-" or "_" (at most 63)');

/**
 * A PostgreSQL identifier (database, schema, table, column, sequence, extension): what a stock
 * server allows (1 to 63 bytes of UTF-8; quoted identifiers may hold `/`, quotes and spaces),
 * except control characters and NUL, which no legitimate name holds and which would reach a
 * terminal or a command line. Database names reach paths only percent-encoded (dumpMemberName).
 */
const identifier = z.string().min(1).refine((s) => Buffer.byteLength(s) <= 63 && !CONTROL.test(s) && s.isWellFormed(), 'a PostgreSQL name: 1 to 63 bytes, no control characters');
/** Free text shown to a person (versions, types, reasons): bounded, no control characters. */
const text = z.string().max(4096).refine((s) => !CONTROL.test(s), 'text without control characters');
/** A tar member name: relative, no `..`, no NUL (as reader.ts checkMemberName). */
const member = z.string().min(1).refine((s) => !s.startsWith('/') && !s.split('/').includes('..') && !s.includes('\0'), 'a relative member name without ".." or NUL');
const count = z.number().int().nonnegative();
const sha256 = z.string().regex(SHA256, '64 lowercase hex digits');
const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 time');

const table = z.looseObject({
  schema: identifier,
  name: identifier,
  kind: z.enum(['table', 'partitioned']),
  columns: z.array(z.looseObject({ name: identifier, type: text, nullable: z.boolean() })),
  rows: count.nullable(),
  dataExcluded: z.boolean().optional(),
});

const database = z.looseObject({
  name: identifier,
  sizeBytes: count,
  encoding: text,
  tables: z.array(table),
  sequences: z.array(z.looseObject({ schema: identifier, name: identifier, lastValue: text.nullable() })),
  extensions: z.array(z.looseObject({ name: identifier, version: text })),
  dumpMembers: z.array(member).min(1),
  dumpSize: count,
  dumpSha256: sha256,
  dumpIndex: z.looseObject({
    tocLength: count,
    tables: z.array(z.looseObject({ dumpId: count, schema: identifier, name: identifier, offset: count, length: count })),
  }).optional(),
});

const file = z.looseObject({
  set: name,
  // Where a path may lead is restore-files.ts's plan to judge (it names the entry it refuses);
  // here only what no path can hold.
  path: z.string().min(1).refine((s) => !s.includes('\0'), 'a path without NUL'),
  member,
  type: z.enum(['file', 'directory', 'symlink']),
  mode: z.number().int().min(0).max(0o7777),
  uid: count,
  gid: count,
  size: count,
  mtime: timestamp,
  sha256: sha256.optional(),
  linkTarget: z.string().refine((s) => !s.includes('\0'), 'a link target without NUL').optional(),
});

const appItem = z.looseObject({
  kind: text,
  id: text,
  name: z.string().max(4096),
  updatedAt: z.string().optional(),
  checksum: z.string(),
  database: identifier.optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

/** The MAC over the manifest's canonical bytes (mac.ts): who vouches for this bundle. */
export const macSchema = z.looseObject({
  alg: z.literal('HMAC-SHA256'),
  /** Which kind of key: the installation key file, or one derived from an age identity. */
  key: z.enum(['installation', 'age-identity']),
  keyId: z.string().regex(/^[0-9a-f]{16}$/, '16 lowercase hex digits'),
  value: sha256,
});

/** The manifest's fields, without the check across them (manifestSchema): what the API describes. */
export const manifestFields = z.looseObject({
  format: z.literal('lifeboat-bundle'),
  formatVersion: z.literal(1),
  id: z.string().regex(ID, 'a backup id <target>-<YYYYMMDDTHHMMSSZ>'),
  target: name,
  lifeboatVersion: text,
  startedAt: timestamp,
  finishedAt: timestamp,
  host: z.looseObject({ hostname: text, platform: text }),
  profile: name,
  compression: z.looseObject({ algorithm: z.enum(['zstd', 'gzip', 'none']), level: z.number().int().optional() }),
  encryption: z.discriminatedUnion('kind', [
    z.looseObject({ kind: z.literal('none') }),
    z.looseObject({ kind: z.literal('recipients'), recipients: z.array(text).min(1) }),
    z.looseObject({ kind: z.literal('passphrase') }),
  ]),
  postgres: z.looseObject({
    serverVersion: text,
    pgDumpVersion: text,
    globals: z.boolean(),
    databases: z.array(database),
  }).optional(),
  files: z.array(file),
  skipped: z.array(z.looseObject({ set: name, path: z.string(), reason: z.string() })),
  app: z.looseObject({
    profile: name,
    items: z.array(appItem),
    migrations: z.array(z.looseObject({ name: text, appliedAt: z.string().optional(), checksum: z.string().optional() })).optional(),
    metadataMembers: z.array(member),
    info: z.record(z.string(), z.unknown()).optional(),
  }),
  warnings: z.array(z.string()),
  mac: macSchema.optional(),
  members: z.array(z.looseObject({ name: member, size: count, sha256 })),
});

export const manifestSchema = manifestFields.superRefine((m, ctx) => {
  if (!m.id.startsWith(`${m.target}-`)) ctx.addIssue({ code: 'custom', path: ['id'], message: `a backup id of target "${m.target}"` });
});
