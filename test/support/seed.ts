import type { TestServer } from './postgres.ts';

/** A small shop: customers, orders referencing them, JSON documents, a sequence, a view. */
export async function seedShop(server: TestServer, db: string, scale = 1): Promise<void> {
  await server.query(db, `
    create schema sales;
    create table public.customers (id serial primary key, name text not null, email text unique, profile jsonb);
    create table sales.orders (
      id bigserial primary key,
      customer_id int not null references public.customers (id),
      total numeric(12, 2) not null,
      placed_at timestamptz not null default now()
    );
    create index orders_customer on sales.orders (customer_id);
    create table public.empty_table (id int);
    create sequence public.invoice_numbers start 1000;
    select nextval('public.invoice_numbers');
    create view sales.big_orders as select * from sales.orders where total > 100;
    insert into public.customers (name, email, profile)
      select 'customer ' || g, 'c' || g || '@example.com', jsonb_build_object('tier', g % 3, 'tags', jsonb_build_array('a', md5(g::text)))
      from generate_series(1, ${1000 * scale}) g;
    insert into sales.orders (customer_id, total)
      select (g % ${1000 * scale}) + 1, (g % 500) * 1.25 from generate_series(1, ${5000 * scale}) g;
  `);
}

const shops = new WeakMap<TestServer, Map<number, Promise<string>>>();

/**
 * A database of its own holding seedShop's data at `scale`: a copy of one seeded once per server
 * and scale (server.copyDatabase), for files that seed a shop per test.
 */
export async function shopCopy(server: TestServer, prefix: string, scale = 1): Promise<string> {
  const byScale = shops.get(server) ?? new Map<number, Promise<string>>();
  shops.set(server, byScale);
  let seeded = byScale.get(scale);
  if (!seeded) {
    seeded = server.createDatabase(`${prefix}_seed`).then(async (db) => {
      await seedShop(server, db, scale);
      return db;
    });
    byScale.set(scale, seeded);
  }
  return server.copyDatabase(await seeded, prefix);
}

/** Per table: row count and an md5 of all rows, to prove a restore equals its source. */
export async function tableFingerprints(server: TestServer, db: string): Promise<Record<string, { rows: number; md5: string }>> {
  const tables = await server.query<{ t: string }>(db, `
    select format('%I.%I', schemaname, tablename) as t from pg_tables
     where schemaname not in ('pg_catalog', 'information_schema') order by 1`);
  const out: Record<string, { rows: number; md5: string }> = {};
  for (const { t } of tables) {
    const [row] = await server.query<{ rows: string; md5: string | null }>(db, `select count(*) as rows, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as md5 from ${t} x`);
    out[t] = { rows: Number(row!.rows), md5: row!.md5 ?? '' };
  }
  return out;
}
