/**
 * Numbered schema migrations, applied in order at start; PRAGMA user_version records how far a
 * catalog has come. Append only: never edit a migration that has shipped.
 */
export const migrations: readonly string[] = [
  // 1: targets, backups and where they are stored, jobs and their log lines, locks.
  `
  create table targets (
    name        text primary key,
    config_json text not null,
    created_at  text not null,
    updated_at  text not null
  );

  create table backups (
    id                   text primary key,
    target               text not null,
    status               text not null check (status in ('running', 'ok', 'failed')),
    trigger              text not null,
    job_id               text,
    started_at           text not null,
    finished_at          text,
    size                 integer,
    compression          text,
    encrypted            integer not null default 0,
    sha256               text,
    bundle_key           text,
    error                text,
    manifest_json        text,
    summary_json         text,
    verification_status  text not null default 'unverified' check (verification_status in ('unverified', 'passed', 'failed')),
    verified_at          text,
    protected            integer not null default 0,
    protected_until      text,
    deletion_status      text not null default 'none' check (deletion_status in ('none', 'pending', 'deleted')),
    delete_after         text,
    tags                 text not null default '[]'
  );
  create index backups_target_started on backups (target, started_at desc);

  create table backup_locations (
    backup_id   text not null references backups (id) on delete cascade,
    storage     text not null,
    key         text not null,
    status      text not null check (status in ('pending', 'ok', 'failed', 'missing')),
    size        integer,
    sha256      text,
    error       text,
    updated_at  text not null,
    primary key (backup_id, storage)
  );

  create table jobs (
    id            text primary key,
    kind          text not null,
    target        text,
    backup_id     text,
    trigger       text not null,
    status        text not null check (status in ('running', 'succeeded', 'failed', 'cancelled')),
    pid           integer,
    progress_json text,
    started_at    text not null,
    finished_at   text,
    error         text
  );
  create index jobs_started on jobs (started_at desc);

  create table job_logs (
    job_id   text not null references jobs (id) on delete cascade,
    seq      integer not null,
    at       text not null,
    level    text not null,
    message  text not null,
    primary key (job_id, seq)
  );

  create table locks (
    name        text primary key,
    job_id      text not null,
    pid         integer not null,
    host        text not null,
    acquired_at text not null
  );

  create table settings (
    key        text primary key,
    value_json text not null,
    updated_at text not null
  );
  `,
  // 2: restore history.
  `
  create table restores (
    id                text primary key,
    backup_id         text not null,
    requested_by      text not null,
    started_at        text not null,
    finished_at       text,
    status            text not null check (status in ('running', 'succeeded', 'failed', 'cancelled')),
    plan_json         text not null,
    report_json       text,
    safety_backup_id  text,
    error             text
  );
  create index restores_started on restores (started_at desc);
  `,
  // 3: verification reports.
  `
  create table verifications (
    id           text primary key,
    backup_id    text not null,
    level        text not null check (level in ('quick', 'full')),
    started_at   text not null,
    finished_at  text not null,
    ok           integer not null,
    report_json  text not null
  );
  create index verifications_backup on verifications (backup_id, started_at desc);
  alter table backups add column verification_level text;
  `,
  // 4: events for the notifications to deliver, and what each storage holds.
  `
  create table events (
    id            integer primary key autoincrement,
    at            text not null,
    kind          text not null,
    severity      text not null check (severity in ('info', 'warning', 'error', 'critical')),
    target        text,
    backup_id     text,
    job_id        text,
    message       text not null,
    data_json     text,
    delivered_at  text
  );
  create index events_at on events (at desc);
  create table storage_usage (
    storage      text primary key,
    type         text not null,
    used_bytes   integer not null,
    objects      integer not null,
    free_bytes   integer,
    total_bytes  integer,
    checked_at   text not null
  );
  `,
  // 5: the scheduler's schedules (seeded from the config, editable), their runs, and leases.
  `
  create table schedules (
    id            integer primary key autoincrement,
    target        text not null,
    spec          text not null,
    cron          text not null,
    timezone      text not null,
    paused        integer not null default 0,
    config_key    text unique,
    seeded_spec   text,
    cursor_at     text,
    created_at    text not null,
    updated_at    text not null
  );
  create table schedule_runs (
    id             integer primary key autoincrement,
    schedule_id    integer,
    target         text not null,
    scheduled_for  text not null,
    started_at     text,
    finished_at    text,
    attempt        integer not null default 1,
    status         text not null check (status in ('running', 'succeeded', 'failed', 'skipped')),
    reason         text,
    job_id         text,
    backup_id      text
  );
  create index schedule_runs_target on schedule_runs (target, scheduled_for desc);
  create table leases (
    name          text primary key,
    holder        text not null,
    heartbeat_at  text not null,
    expires_at    text not null
  );
  `,
  // 6: notification deliveries. Events recorded before this migration are marked routed, so
  // upgrading never sends a backlog.
  `
  alter table events add column routed_at text;
  alter table events add column read_at text;
  update events set routed_at = at;
  create table deliveries (
    id               integer primary key autoincrement,
    event_id         integer not null,
    channel          text not null,
    status           text not null check (status in ('pending', 'sent', 'failed')),
    attempts         integer not null default 0,
    max_attempts     integer not null,
    next_attempt_at  text not null,
    last_error       text,
    created_at       text not null,
    updated_at       text not null,
    unique (event_id, channel)
  );
  create index deliveries_due on deliveries (status, next_attempt_at);
  create table delivery_attempts (
    id           integer primary key autoincrement,
    delivery_id  integer not null,
    at           text not null,
    ok           integer not null,
    status_code  integer,
    error        text
  );
  `,
  // 7: trust (authenticated bundles, mac.ts). Rows written by this installation's own backups stay
  // trusted: the catalog saw those bundles being made. Rows a rebuild took from storage before
  // manifests carried a MAC were never vouched for by anything: they become untrusted, as a
  // rebuild would make them now, so an upgrade does not bless a bundle planted before it.
  `
  alter table backups add column trust text not null default 'trusted' check (trust in ('trusted', 'untrusted'));
  alter table backups add column trust_reason text;
  update backups set trust = 'untrusted', trust_reason = 'found in storage by a catalog rebuild before bundles were authenticated' where trigger = 'rebuild';
  `,
  // 8: resources a job creates (scratch databases and clusters, temp directories, pipes, tool
  // processes, staged uploads), recorded before they exist with the owning process, so the
  // ones a killed process left are found and removed (jobs/resources.ts).
  `
  create table resources (
    id          integer primary key autoincrement,
    kind        text not null,
    location    text not null,
    server      text,
    detail      text,
    owner_pid   integer not null,
    owner_mark  text,
    host        text not null,
    job_id      text,
    created_at  text not null
  );
  `,
  // 9: users, their browser sessions and API tokens (stored as sha256 only), and the login
  // throttle's failure counts (src/auth/).
  `
  create table users (
    id                   integer primary key autoincrement,
    name                 text not null unique,
    role                 text not null check (role in ('viewer', 'operator', 'admin')),
    password_hash        text not null,
    disabled             integer not null default 0,
    created_at           text not null,
    updated_at           text not null,
    password_changed_at  text not null,
    last_login_at        text
  );
  create table sessions (
    id            integer primary key autoincrement,
    user_id       integer not null references users (id) on delete cascade,
    id_hash       text not null unique,
    handle        text not null unique,
    created_at    text not null,
    last_seen_at  text not null,
    idle_seconds  integer not null,
    expires_at    text not null,
    address       text,
    user_agent    text
  );
  create index sessions_user on sessions (user_id);
  create table api_tokens (
    id                 integer primary key autoincrement,
    owner_id           integer not null references users (id) on delete cascade,
    name               text not null,
    token_hash         text not null unique,
    scopes_json        text not null,
    created_at         text not null,
    created_by         text not null,
    expires_at         text,
    last_used_at       text,
    last_used_address  text,
    revoked_at         text
  );
  create unique index api_tokens_owner_name on api_tokens (owner_id, name) where revoked_at is null;
  create table login_attempts (
    key              text primary key,
    failures         integer not null,
    last_failure_at  text not null,
    locked_until     text
  );
  `,
  // 10: the audit log (audit/): append-only, each row chained to the one before by its hash. Ids
  // are given by the writer (the previous id + 1), so a gap always means a removed row.
  `
  create table audit (
    id           integer primary key,
    at           text not null,
    actor        text not null,
    action       text not null,
    object       text,
    address      text,
    user_agent   text,
    outcome      text not null check (outcome in ('ok', 'failed', 'refused')),
    detail_json  text,
    prev_hash    text not null,
    hash         text not null
  );
  create index audit_at on audit (at);
  `,
  // 11: the list of backups the API pages through (reports/backups.ts). A backup's row holds its
  // manifest (kilobytes, in overflow pages) before the columns a list filters on, so filtering
  // 10,000 of them read megabytes. backup_list is a narrow copy of the listed columns, kept by
  // triggers whatever writes backups, with the state of the copies (degraded) precomputed and
  // indexes that hold every filter column: a filtered page never reads a row it does not show.
  // Jobs get an index per filter of their listing (reports/jobs.ts).
  `
  create table backup_list (
    id                   text primary key,
    target               text not null,
    status               text not null,
    deletion_status      text not null,
    delete_after         text,
    trigger              text not null,
    started_at           text not null,
    finished_at          text,
    size                 integer,
    size_key             integer not null,
    error                text,
    summary_json         text,
    verification_status  text not null,
    verification_level   text,
    verified_at          text,
    protected            integer not null,
    protected_until      text,
    trust                text not null,
    tags                 text not null,
    bad_copies           integer not null default 0,
    locations_json       text not null default '[]'
  );
  insert into backup_list (id, target, status, deletion_status, delete_after, trigger, started_at, finished_at, size, size_key, error, summary_json, verification_status, verification_level, verified_at, protected, protected_until, trust, tags, bad_copies, locations_json)
    select id, target, status, deletion_status, delete_after, trigger, started_at, finished_at, size, ifnull(size, -1), error, summary_json, verification_status, verification_level, verified_at, protected, protected_until, trust, tags,
      (select count(*) from backup_locations l where l.backup_id = b.id and l.status != 'ok'),
      (select json_group_array(json_array(l.storage, l.status)) from backup_locations l where l.backup_id = b.id)
    from backups b;
  create index backup_list_started on backup_list (started_at, id, target, status, deletion_status, bad_copies, verification_status, verification_level, protected, protected_until);
  create index backup_list_target on backup_list (target, started_at desc, id desc, status, deletion_status, bad_copies, verification_status, verification_level, protected, protected_until);
  create index backup_list_target_desc on backup_list (target desc, started_at desc, id desc, status, deletion_status, bad_copies, verification_status, verification_level, protected, protected_until);
  create index backup_list_size on backup_list (size_key, id, target, status, deletion_status, bad_copies, verification_status, verification_level, protected, protected_until);
  create index backup_list_target_size on backup_list (target, size_key, id, status, deletion_status, bad_copies, verification_status, verification_level, protected, protected_until);
  create index backup_list_pending on backup_list (started_at, id) where deletion_status = 'pending';
  create index backup_list_failed on backup_list (started_at, id) where status = 'failed';
  create index backup_list_protected on backup_list (started_at, id) where protected = 1;
  create index backup_list_degraded on backup_list (started_at, id) where bad_copies > 0;
  create trigger backup_list_insert after insert on backups begin
    insert into backup_list (id, target, status, deletion_status, delete_after, trigger, started_at, finished_at, size, size_key, error, summary_json, verification_status, verification_level, verified_at, protected, protected_until, trust, tags) values (new.id, new.target, new.status, new.deletion_status, new.delete_after, new.trigger, new.started_at, new.finished_at, new.size, ifnull(new.size, -1), new.error, new.summary_json, new.verification_status, new.verification_level, new.verified_at, new.protected, new.protected_until, new.trust, new.tags);
  end;
  create trigger backup_list_update after update on backups begin
    update backup_list set target = new.target, status = new.status, deletion_status = new.deletion_status, delete_after = new.delete_after, trigger = new.trigger, started_at = new.started_at, finished_at = new.finished_at, size = new.size, size_key = ifnull(new.size, -1), error = new.error, summary_json = new.summary_json, verification_status = new.verification_status, verification_level = new.verification_level, verified_at = new.verified_at, protected = new.protected, protected_until = new.protected_until, trust = new.trust, tags = new.tags where id = old.id;
  end;
  create trigger backup_list_delete after delete on backups begin
    delete from backup_list where id = old.id;
  end;
  create trigger backup_list_location_insert after insert on backup_locations begin
    update backup_list set bad_copies = (select count(*) from backup_locations l where l.backup_id = new.backup_id and l.status != 'ok'),
      locations_json = (select json_group_array(json_array(l.storage, l.status)) from backup_locations l where l.backup_id = new.backup_id) where id = new.backup_id;
  end;
  create trigger backup_list_location_update after update on backup_locations begin
    update backup_list set bad_copies = (select count(*) from backup_locations l where l.backup_id = new.backup_id and l.status != 'ok'),
      locations_json = (select json_group_array(json_array(l.storage, l.status)) from backup_locations l where l.backup_id = new.backup_id) where id = new.backup_id;
  end;
  create trigger backup_list_location_delete after delete on backup_locations begin
    update backup_list set bad_copies = (select count(*) from backup_locations l where l.backup_id = old.backup_id and l.status != 'ok'),
      locations_json = (select json_group_array(json_array(l.storage, l.status)) from backup_locations l where l.backup_id = old.backup_id) where id = old.backup_id;
  end;
  create index jobs_started_id on jobs (started_at, id);
  create index jobs_status_started on jobs (status, started_at, id);
  create index jobs_kind_started on jobs (kind, started_at, id);
  create index jobs_target_started on jobs (target, started_at, id);
  create index events_unread on events (id) where read_at is null;
  `,
  // 12: targets, storages and notification
  // channels created over the API. config_json is the object as its creator wrote it, with each
  // secret replaced by {"$sealed": "v1:..."} (config/secret-box.ts): no secret is stored in clear.
  `
  create table config_objects (
    kind        text not null check (kind in ('target', 'storage', 'channel')),
    name        text not null,
    config_json text not null,
    created_at  text not null,
    updated_at  text not null,
    created_by  text not null,
    updated_by  text not null,
    primary key (kind, name)
  );
  `,
  // 13: the size orders of the backup
  // list also hold started_at, so a page sorted by size within a date range walks the index in
  // size order and checks the range in the index entry, reading only the rows it shows (it read
  // and sorted every row in the range: 2.7 against 0.27 ms for 450 backups of a target).
  `
  drop index backup_list_size;
  create index backup_list_size on backup_list (size_key, id, started_at, target, status, deletion_status, bad_copies, verification_status, verification_level, protected, protected_until);
  drop index backup_list_target_size;
  create index backup_list_target_size on backup_list (target, size_key, id, started_at, status, deletion_status, bad_copies, verification_status, verification_level, protected, protected_until);
  `,
  // migration 14 (drill): each bare-metal drill of a backup, with its RTO by part, the bundle's
  // size and the tools' versions (catalog/drills.ts). No foreign key: a drill's record outlives
  // the backup, as the history of what a restore took.
  `
  create table drills (
    id          text primary key,
    backup_id   text not null,
    target      text not null,
    started_at  text not null,
    finished_at text not null,
    ok          integer not null,
    rto_ms      integer,
    phases_json text not null,
    bundle_size integer,
    storage     text,
    tools_json  text not null,
    report_json text not null
  );
  create index drills_backup on drills (backup_id, started_at);
  create index drills_target on drills (target, started_at);
  `,
  // 15: each listed backup also as the JSON a page of `GET /api/v1/backups` shows it
  // (reports/backups.ts), made by SQLite whenever the row changes: a page is then the join of 50
  // stored texts instead of 50 rows turned into objects and back into text (626 -> ~180 us a page
  // of 50, the API bench's distinct questions). `protected` is written as recorded; a protection
  // whose time has passed is corrected when read (catalog/queries.ts).
  `
  alter table backup_list add column list_json text;
  create trigger backup_list_json_insert after insert on backup_list begin
    update backup_list set list_json = ${listJson('new')} where id = new.id;
  end;
  create trigger backup_list_json_update after update of target, status, deletion_status, delete_after, trigger, started_at, finished_at, size, error, summary_json,
      verification_status, verification_level, verified_at, protected, protected_until, trust, tags, bad_copies, locations_json on backup_list begin
    update backup_list set list_json = ${listJson('new')} where id = new.id;
  end;
  update backup_list set list_json = ${listJson('backup_list')};
  `,
];

/**
 * A backup_list row `r` as the API lists it (BackupSummaryRow in reports/backups.ts), in SQL:
 * migration 15's, frozen with it. durationMs: the summary's, else finished minus started.
 */
function listJson(r: string): string {
  return `json_object('id', ${r}.id, 'target', ${r}.target,
      'status', case when ${r}.deletion_status = 'deleted' then 'deleted' when ${r}.status = 'ok' and ${r}.bad_copies > 0 then 'degraded' else ${r}.status end,
      'trust', ${r}.trust, 'trigger', ${r}.trigger, 'startedAt', ${r}.started_at, 'finishedAt', ${r}.finished_at,
      'durationMs', coalesce(${r}.summary_json ->> '$.durationMs', cast(round((unixepoch(${r}.finished_at, 'subsec') - unixepoch(${r}.started_at, 'subsec')) * 1000) as integer)),
      'size', ${r}.size, 'error', ${r}.error,
      'verification', json_object('status', ${r}.verification_status, 'level', ${r}.verification_level, 'at', ${r}.verified_at),
      'protected', json(iif(${r}.protected = 1, 'true', 'false')), 'protectedUntil', ${r}.protected_until,
      'deletion', json_object('status', ${r}.deletion_status, 'at', ${r}.delete_after),
      'locations', (select json_group_array(json_object('storage', l.value ->> 0, 'status', l.value ->> 1)) from json_each(${r}.locations_json) l),
      'summary', json(${r}.summary_json), 'tags', json(${r}.tags))`;
}
