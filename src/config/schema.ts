import { z } from 'zod';
import { toCron } from '../scheduler/schedule.ts';
import { EVENT_KINDS } from '../notify/event-kinds.ts';

/** Names that end up in file names, tar members and backup ids: keep them plain. */
const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, 'a name of letters, digits, "-" or "_" (at most 63)');

const size = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/i, 'a size such as 500MB or 100GB'),
]);

/** Transient errors (5xx, resets, timeouts) are retried with exponential backoff from `delayMs`. */
const retry = z
  .strictObject({ attempts: z.number().int().min(1).max(20).default(4), delayMs: z.number().int().min(0).default(500) })
  .default({ attempts: 4, delayMs: 500 });

/** Options every storage takes. `quota` caps what Lifeboat may use where the backend reports no free space. */
const storageCommon = { quota: size.optional(), retry };

const localStorage = z.strictObject({
  type: z.literal('local'),
  /** Any mounted directory, NFS and SMB mounts included. */
  path: z.string().min(1),
  ...storageCommon,
});

const s3Storage = z.strictObject({
  type: z.literal('s3'),
  bucket: z.string().min(3),
  /** A folder inside the bucket, e.g. `lifeboat/`. */
  prefix: z.string().default(''),
  region: z.string().default('us-east-1'),
  /** For MinIO, Backblaze B2, Cloudflare R2, Wasabi...: their S3 endpoint URL. */
  endpoint: z.string().url().optional(),
  /** Bucket in the path (`https://host/bucket/key`) instead of the host name; most self-hosted servers need it. */
  pathStyle: z.boolean().default(false),
  /** Without them the SDK's chain is used: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile, instance role. */
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
  sessionToken: z.string().min(1).optional(),
  storageClass: z.string().min(1).optional(),
  serverSideEncryption: z.enum(['AES256', 'aws:kms']).optional(),
  kmsKeyId: z.string().min(1).optional(),
  /** Multipart part size: 5MB at least; memory in flight is about partSize x 2. */
  partSize: size.default('16MB'),
  ...storageCommon,
});

const sftpStorage = z.strictObject({
  type: z.literal('sftp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  username: z.string().min(1),
  password: z.string().min(1).optional(),
  /** Path of a private key file (OpenSSH or PEM format). */
  privateKey: z.string().min(1).optional(),
  passphrase: z.string().min(1).optional(),
  /** The remote folder bundles go into. */
  path: z.string().min(1),
  /** The server's host key fingerprint, `SHA256:...` as `ssh-keygen -lf` prints it; checked instead of known_hosts. */
  hostKey: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'a fingerprint such as SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s').optional(),
  /** The known_hosts file to check the host key against; default ~/.ssh/known_hosts. */
  knownHosts: z.string().min(1).optional(),
  timeoutMs: z.number().int().positive().default(20000),
  ...storageCommon,
});

const rcloneStorage = z.strictObject({
  type: z.literal('rclone'),
  /** An rclone remote and folder, e.g. `gdrive:backups/lifeboat`. */
  remote: z.string().regex(/^[^:\s]*:/, 'an rclone remote such as gdrive:backups'),
  /** The rclone binary; default `rclone` on PATH. */
  binary: z.string().min(1).default('rclone'),
  /** The rclone config file; default rclone's own (~/.config/rclone/rclone.conf). */
  configFile: z.string().min(1).optional(),
  ...storageCommon,
});

export const storageSchema = z.discriminatedUnion('type', [localStorage, s3Storage, sftpStorage, rcloneStorage]);

const fileSetObject = z.strictObject({
  paths: z.array(z.string().min(1)).min(1),
  include: z.array(z.string().min(1)).optional(),
  exclude: z.array(z.string().min(1)).optional(),
});

/** A Docker named volume as a file set (README, "Containers as targets"): its paths are found at each backup. */
const volumeFileSet = z.strictObject({
  volume: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a Docker volume name'),
  /** How it is read: its mountpoint when readable, else a helper container (auto); or one of them. */
  via: z.enum(['auto', 'mountpoint', 'helper']).default('auto'),
  include: z.array(z.string().min(1)).optional(),
  exclude: z.array(z.string().min(1)).optional(),
});

/** `config: [/a, /b]` is shorthand for `config: { paths: [/a, /b] }`. */
const fileSet = z.union([z.array(z.string().min(1)).min(1), fileSetObject, volumeFileSet]).transform((v): { paths: string[]; include: string[] | undefined; exclude: string[] | undefined; volume?: string; via?: 'auto' | 'mountpoint' | 'helper' } =>
  Array.isArray(v) ? { paths: v, include: undefined, exclude: undefined } : 'volume' in v ? { paths: [], include: v.include, exclude: v.exclude, volume: v.volume, via: v.via } : { paths: v.paths, include: v.include, exclude: v.exclude },
);

/** A container by name, `{ pattern }` (a regular expression on names) or `{ label: key=value }` (README, "Containers as targets"). */
const containerRef = z.union([
  z.string().min(1),
  z.strictObject({ name: z.string().min(1) }),
  z.strictObject({ pattern: z.string().min(1) }),
  z.strictObject({ label: z.string().min(1) }),
]);

const postgres = z
  .strictObject({
    /** Without url or container: LIFEBOAT_POSTGRES_CONTAINER or LIFEBOAT_POSTGRES_CONTAINER_PATTERN name the container. */
    url: z.string().min(1).optional(),
    /** The server runs in this container: its tools run there, its login comes from its POSTGRES_* environment. */
    container: containerRef.optional(),
    /** With container: a login other than the container's POSTGRES_USER / POSTGRES_PASSWORD. */
    user: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    databases: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]).default('all'),
    globals: z.boolean().default(false),
    /** A directory holding pg_dump, pg_restore and psql, tried before PATH and /usr/lib/postgresql. */
    binDir: z.string().optional(),
  })
  .refine((p) => !(p.url && p.container), { message: 'url and container exclude each other: a target\'s server is reached one way' })
  .refine((p) => !((p.user || p.password) && p.url), { message: 'user and password go with container; a url carries its own' });

const encryption = z.union([
  z.strictObject({
    recipients: z.array(z.string().min(1)).min(1),
    /** The age identity file (AGE-SECRET-KEY-1...) that reads the bundles back; not needed to write them. */
    identityFile: z.string().min(1).optional(),
  }),
  z.strictObject({ passphrase: z.string().min(1) }),
]);

const compression = z
  .strictObject({
    algorithm: z.enum(['zstd', 'gzip', 'none']).default('zstd'),
    level: z.number().int().min(1).max(19).optional(),
  })
  .default({ algorithm: 'zstd' });

const timeZone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'an IANA time zone such as Europe/Amsterdam or UTC');

const storageRef = z
  .union([name, z.strictObject({ primary: name, replicas: z.array(name).default([]) })])
  .transform((v) => (typeof v === 'string' ? { primary: v, replicas: [] } : v));

/** Read now so a config written for later features is checked; acted on by the daemon issues. */
/** `0 2 * * *`, or a preset: hourly, "daily at 02:00", "weekly on sunday at 03:00", "monthly on day 1". */
const cronText = z.string().min(1).superRefine((v, ctx) => {
  try {
    toCron(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});
const scheduleEntry = z.union([cronText, z.strictObject({ cron: cronText, timezone: timeZone.optional() })]);
const schedule = z
  .union([scheduleEntry, z.array(scheduleEntry).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]).map((e) => (typeof e === 'string' ? { cron: e, timezone: undefined } : e)));
/** Retention-scale durations, as restic writes them: h hours, d days, w weeks, m months, y years. */
const duration = z.string().regex(/^(\d+[hdwmy])+$/, 'a duration such as 36h, 7d, 2w, 6m or 1y');
/** Daemon intervals: s seconds, m minutes, h hours, d days. */
const interval = z.string().regex(/^\d+[smhd]$/, 'an interval such as 30s, 10m, 1h or 1d');
/** The rules are documented in src/retention/policy.ts and README ("Retention"). */
const retention = z.strictObject({
  keepLast: z.number().int().nonnegative().optional(),
  keepHourly: z.number().int().nonnegative().optional(),
  keepDaily: z.number().int().nonnegative().optional(),
  keepWeekly: z.number().int().nonnegative().optional(),
  keepMonthly: z.number().int().nonnegative().optional(),
  keepYearly: z.number().int().nonnegative().optional(),
  /** Keep everything within this of the newest backup: `36h`, `7d`, `2w`, `6m`, `1y`. */
  keepWithin: duration.optional(),
  maxAgeDays: z.number().int().positive().optional(),
  maxTotalSize: size.optional(),
  minFreeSpacePercent: z.number().min(0).max(100).optional(),
  /** Successful backups that always remain, whatever the rules say. */
  minKeep: z.number().int().min(1).default(1),
  /** Announce an automatic deletion this long before it happens (a `pending_deletion` event). */
  notifyBeforeDeleteHours: z.number().nonnegative().optional(),
  /** The zone days, weeks and months are counted in; default the schedule's, else the system's. */
  timezone: timeZone.optional(),
  /** A backup that would leave less free than this on its storage is an emergency (default 5). */
  criticalFreeSpacePercent: z.number().min(0).max(100).optional(),
  /** Then: refuse to start and raise `low_space` (default), or delete the oldest backups the floors allow. */
  onCriticalSpace: z.enum(['stop-and-alert', 'delete-oldest']).optional(),
});
/** A user's assertion, run against the restored copy: the first column of the first row must equal `expect`. */
const userCheck = z.strictObject({
  name: z.string().min(1),
  sql: z.string().min(1),
  expect: z.union([z.string(), z.number(), z.boolean(), z.null()]),
  /** Which restored database to run it in; default: the only one, or the first. */
  database: z.string().optional(),
});
const verification = z.union([
  z.literal('manual'),
  z.strictObject({
    every: z.number().int().positive().optional(),
    cron: z.string().optional(),
    percentage: z.number().min(0).max(100).optional(),
    quickAfterEachBackup: z.boolean().optional(),
    checks: z.array(userCheck).optional(),
    /** Server binaries (initdb, pg_ctl, postgres) for the scratch cluster; default /usr/lib/postgresql/<v>/bin. */
    binDir: z.string().optional(),
    /** The bare-metal drill (jobs/drill.ts): when the daemon runs one, and when its age raises `drill_overdue`. */
    drill: z.strictObject({
      /** The daemon drills the target's newest good backup when this fires, e.g. "0 5 1 * *" (monthly). */
      cron: cronText.optional(),
      /** `drill_overdue` once a day while the newest successful drill is older than this. */
      maxAgeDays: z.number().positive().optional(),
      /** restore.sh --jobs for the daemon's drills; default 2. */
      jobs: z.number().int().min(1).max(64).optional(),
    }).optional(),
    /** Where the test restore runs: host binaries, else the database container's image (auto); or only one of them. */
    scratch: z.enum(['auto', 'host', 'container']).optional(),
  }),
]);

export const targetSchema = z.strictObject({
  postgres: postgres.optional(),
  /** auto: n8n, django or prisma by the tables present, else generic. */
  profile: z.enum(['generic', 'auto', 'n8n', 'django', 'prisma']).default('generic'),
  /** django profile: where the code's migrations are, to check a restore against them. */
  django: z
    .strictObject({
      /** The project root; every `<app>/migrations/NNNN_*.py` under it counts. */
      projectRoot: z.string().min(1).optional(),
      migrationsDirs: z.array(z.string().min(1)).optional(),
      /** MEDIA_ROOT: backed up as the file set `media` unless the target's files name one already. */
      mediaRoot: z.string().min(1).optional(),
      /** Said after a restore that leaves forward migrations pending, e.g. `docker compose exec web python manage.py migrate`. */
      migrateCommand: z.string().min(1).optional(),
    })
    .optional(),
  /** prisma profile: the code's migrations folder (default prisma/migrations beside lifeboat.yaml). */
  prisma: z.strictObject({ migrationsDir: z.string().min(1).optional() }).optional(),
  /** n8n profile options (README, "n8n"). */
  n8n: z
    .strictObject({
      /** The schema n8n's tables are in (DB_POSTGRESDB_SCHEMA). */
      schema: z.string().min(1).default('public'),
      /** n8n's DB_TABLE_PREFIX. */
      tablePrefix: z.string().default(''),
      /** N8N_USER_FOLDER: its `.n8n/config` holds the encryption key when the environment does not. */
      userFolder: z.string().min(1).optional(),
      /** The environment variable holding the encryption key. */
      encryptionKeyEnv: z.string().min(1).default('N8N_ENCRYPTION_KEY'),
      /** Dump the execution tables schema-only: they are most of an n8n database and rarely wanted back. */
      excludeExecutionData: z.boolean().default(false),
      /** A running n8n for `restore --workflow ... --to-n8n`: its URL and a public-API key. */
      url: z.string().url().optional(),
      apiKey: z.string().min(1).optional(),
    })
    .optional(),
  files: z.record(name, fileSet).default({}),
  /** What to do with a file in a file set that cannot be read: stop the backup, or leave it out and say so. */
  onUnreadable: z.enum(['fail', 'skip']).default('fail'),
  storage: storageRef,
  encryption: encryption.optional(),
  compression,
  /** One schedule or several; the scheduler seeds its own from these (`lifeboat schedule list`). */
  schedule: schedule.optional(),
  /** Raise `backup_missing` when the newest successful backup is older; default twice the schedule's period. */
  alertIfNoBackupFor: duration.optional(),
  retention: retention.optional(),
  verification: verification.optional(),
});

/** Options every channel takes: which events (`on`), emergency routing, delivery retries. */
const channelCommon = {
  /** Event names; default failures and emergencies (README, "Notifications"). */
  on: z.array(z.enum([...EVENT_KINDS, 'failure'])).optional(),
  /** critical_space and backup_missing always reach emergency channels, whatever `on` says. */
  emergency: z.boolean().default(false),
  /** Delivery attempts before giving up, with exponential backoff from 30 s. */
  attempts: z.number().int().min(1).max(20).default(6),
};
const httpUrl = z.string().url().refine((u) => /^https?:/.test(u), 'an http(s) URL');
const notification = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('webhook'), url: httpUrl, ...channelCommon,
    /** Signs each request: X-Lifeboat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">. */
    secret: z.string().min(1).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    /** A body template instead of the JSON payload: {{event}}, {{target}}, {{message}}, {{text}}, {{payload}}... */
    template: z.string().min(1).optional(),
  }),
  z.strictObject({ type: z.literal('slack'), webhookUrl: httpUrl, ...channelCommon }),
  z.strictObject({ type: z.literal('discord'), webhookUrl: httpUrl, ...channelCommon }),
  z.strictObject({ type: z.literal('teams'), webhookUrl: httpUrl, ...channelCommon }),
  z.strictObject({ type: z.literal('telegram'), botToken: z.string().min(1), chatId: z.union([z.string().min(1), z.number()]), apiUrl: httpUrl.default('https://api.telegram.org'), ...channelCommon }),
  z.strictObject({ type: z.literal('ntfy'), url: httpUrl, token: z.string().min(1).optional(), ...channelCommon }),
  z.strictObject({ type: z.literal('gotify'), url: httpUrl, token: z.string().min(1), ...channelCommon }),
  z.strictObject({
    type: z.literal('email'), host: z.string().min(1), port: z.number().int().min(1).max(65535).default(587),
    /** true: TLS from the start (port 465); false: STARTTLS when the server offers it. */
    secure: z.boolean().default(false),
    user: z.string().min(1).optional(), password: z.string().min(1).optional(),
    from: z.string().min(3), to: z.array(z.string().min(3)).min(1), ...channelCommon,
  }),
]);

/** `host:port` or `port`; a bare port listens on 127.0.0.1 only. */
const listen = z.string().regex(/^(?:(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):)?\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080, or a port');

const cidr = z.string().regex(/^[0-9a-fA-F.:]+(?:\/\d{1,3})?$/, 'expected an address or a CIDR range, e.g. 10.0.0.0/8');

const serverSchema = z.strictObject({
  /** Where the API listens; beyond loopback without TLS or a trusted proxy, serve warns at start. */
  listen: listen.default('127.0.0.1:8080'),
  /** The URL users reach the UI at (behind a proxy): the origin for the CSRF check and links. */
  publicUrl: z.url().optional(),
  /** Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed. */
  trustProxy: z.array(cidr).default([]),
  /** HTTPS here: PEM files. */
  tls: z.strictObject({ cert: z.string(), key: z.string() }).optional(),
  /** /metrics without a token (scope `metrics`) when true. */
  metrics: z.strictObject({ public: z.boolean().default(false) }).default({ public: false }),
  /** Browser sessions end after `idleHours` without a request, and `absoluteDays` after login whatever their use. */
  sessions: z
    .strictObject({ idleHours: z.number().positive().max(720).default(12), absoluteDays: z.number().positive().max(365).default(7) })
    .default({ idleHours: 12, absoluteDays: 7 }),
});

export const configSchema = z.strictObject({
  /** Where the catalog lives; LIFEBOAT_HOME overrides it. */
  home: z.string().optional(),
  /** Where temporary files go; defaults to tmp/ in the Lifeboat home (jobs/resources.ts). */
  tempDir: z.string().optional(),
  storages: z.record(name, storageSchema),
  targets: z.record(name, targetSchema),
  notifications: z.record(name, notification).optional(),
  daemon: z
    .strictObject({
      /** internal: the schedules start backups; external: only triggers from outside do (cron, the API); both. */
      schedulerMode: z.enum(['internal', 'external', 'both']).default('internal'),
      /** Backups at once, across targets. */
      concurrency: z.number().int().min(1).max(16).default(1),
      /** On start, one catch-up run per schedule whose target's last success is older than its period. */
      catchUp: z.enum(['one', 'none']).default('one'),
      /** A failed scheduled backup is tried again this many times, `delay` apart. */
      retry: z.strictObject({ attempts: z.number().int().min(0).max(10).default(2), delay: interval.default('10m') }).default({ attempts: 2, delay: '10m' }),
      /** How often retention runs besides after each backup. */
      pruneEvery: interval.default('1h'),
    })
    .default({ schedulerMode: 'internal', concurrency: 1, catchUp: 'one', retry: { attempts: 2, delay: '10m' }, pruneEvery: '1h' }),
  /** The HTTP API and UI that `lifeboat serve` runs beside the daemon (README, "HTTP API"). */
  server: serverSchema.default(serverSchema.parse({})),
  /** The audit log (README, "Audit log"). */
  audit: z
    .strictObject({
      /** Rows older than this are removed by the daemon's hourly retention; the chain still verifies. */
      retentionDays: z.number().int().min(1).max(36_500).default(365),
    })
    .default({ retentionDays: 365 }),
});

export type Config = z.infer<typeof configSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
export type StorageConfig = z.infer<typeof storageSchema>;
export type ChannelConfig = z.infer<typeof notification>;
export type FileSetConfig = TargetConfig['files'][string];
export type EncryptionConfig = NonNullable<TargetConfig['encryption']>;
export type CompressionConfig = TargetConfig['compression'];
