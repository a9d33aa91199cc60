import type { TestServer } from './postgres.ts';

/**
 * A small pagila-like schema whose tables depend on things outside themselves, the kinds a
 * single-table restore must bring along or find: an enum and a domain column, a trigger calling
 * a function, a column defaulting to a sequence another table owns, a generated column, an RLS
 * policy, a grant, foreign keys both ways (one ON DELETE CASCADE), a view and a materialized view, and a
 * range-partitioned table with a default partition and a list-sub-partitioned one.
 */
export const LIBRARY_SCHEMA = `
create type mood as enum ('sad', 'ok', 'happy');
create domain year as integer check (value >= 1900 and value <= 2200);
create function touch_note() returns trigger language plpgsql as $$
begin new.note := coalesce(new.note, '') || '+t'; return new; end $$;
create function title_len(t text) returns integer language sql immutable as $$ select length(t) $$;

create table author (id serial primary key, name text not null unique);
create table counter_owner (id integer primary key);
create sequence shared_seq start 1000;
alter sequence shared_seq owned by counter_owner.id;
create table book (
  id integer primary key default nextval('shared_seq'),
  author_id integer references author (id),
  title text not null check (title_len(title) > 0),
  genre mood not null default 'ok',
  published year,
  chars integer generated always as (title_len(title)) stored,
  note text
);
comment on table book is 'books we hold';
do $$ begin create role lib_reader; exception when duplicate_object then null; end $$;
grant select on book to lib_reader;
create index book_title on book (title);
create trigger book_touch before insert or update on book for each row execute function touch_note();
alter table book enable row level security;
create policy book_visible on book using (genre <> 'sad');
create table review (id serial primary key, book_id integer not null references book (id) on delete cascade, stars integer);
create view book_titles as select id, title from book;
create materialized view book_count as select count(*) as n from book;

create table measurement (id bigserial, at date not null, region text not null, value numeric, primary key (id, at, region)) partition by range (at);
create table measurement_2023 partition of measurement for values from ('2023-01-01') to ('2024-01-01');
create table measurement_2024 partition of measurement for values from ('2024-01-01') to ('2025-01-01') partition by list (region);
create table measurement_2024_eu partition of measurement_2024 for values in ('eu');
create table measurement_2024_rest partition of measurement_2024 default;
create table measurement_other partition of measurement default;
create index measurement_region on measurement (region);
create table measurement_flag (id serial primary key, m_id bigint not null, m_at date not null, m_region text not null,
  foreign key (m_id, m_at, m_region) references measurement (id, at, region));
`;

export const LIBRARY_DATA = `
insert into author (name) select 'author ' || g from generate_series(1, 20) g;
insert into counter_owner select g from generate_series(1, 5) g;
insert into book (author_id, title, genre, published)
  select 1 + g % 20, 'title ' || g, (array['sad', 'ok', 'happy'])[1 + g % 3]::mood, 1950 + g % 70 from generate_series(1, 300) g;
insert into review (book_id, stars) select 1000 + g % 300, g % 5 from generate_series(1, 400) g;
insert into measurement (at, region, value)
  select date '2022-06-01' + (g % 1000), (array['eu', 'us', 'asia'])[1 + g % 3], g / 7.0 from generate_series(1, 3000) g;
insert into measurement_flag (m_id, m_at, m_region) select id, at, region from measurement where id % 10 = 0;
refresh materialized view book_count;
`;

/** The fixture's tables, each with the order that makes its contents comparable. */
export const LIBRARY_TABLES = ['author', 'counter_owner', 'book', 'review', 'measurement', 'measurement_2023', 'measurement_2024', 'measurement_2024_eu', 'measurement_2024_rest', 'measurement_other', 'measurement_flag'];

export async function seedLibrary(server: TestServer, db: string): Promise<void> {
  await server.query(db, LIBRARY_SCHEMA);
  await server.query(db, LIBRARY_DATA);
}

/** A table's rows as text, in a stable order: equal strings mean equal contents. */
export async function tableContents(server: TestServer, db: string, table: string): Promise<{ rows: number; text: string }> {
  const [r] = await server.query<{ rows: string; text: string | null }>(db, `select count(*) as rows, string_agg(x::text, E'\\n' order by x::text) as text from public.${table} x`);
  return { rows: Number(r!.rows), text: r!.text ?? '' };
}
