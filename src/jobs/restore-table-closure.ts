// What one table is, in a dump's own terms: the table of contents entries that make it (its
// partitions, columns' defaults, indexes, constraints, triggers, policies, owned sequences,
// comments, grants, rows) and the entries outside it that it needs (types, domains, functions,
// sequences it uses, schemas, extensions). Computed from pg_dump's dependency lists alone, so a
// plan and a restore agree on it without a database.
import { LifeboatError } from '../errors.ts';
import type { TocEntry } from '../postgres/dump-index.ts';

export interface TableRef {
  schema: string;
  name: string;
}

/** A table and everything a restore of it brings along or must find. */
export interface TableClosure {
  /** The table's own TABLE entry. */
  table: TocEntry;
  /** TABLE entries of the table and of its partitions, sub-partitions included; the table first. */
  tree: TocEntry[];
  /** Per partition, the table it is a partition of. */
  parentOf: Map<number, number>;
  /** Entries that belong to the tree: data, defaults, indexes, constraints, triggers, policies, owned sequences, comments, grants. */
  members: TocEntry[];
  /** Foreign keys of the tree's tables (outgoing, or to itself). */
  foreignKeys: TocEntry[];
  /** Foreign keys of other tables that reference the tree. */
  incoming: TocEntry[];
  /** Sequences the tree owns (their SEQUENCE entries; also in `members`). */
  ownedSequences: TocEntry[];
  /** Objects outside the table that it needs, dependencies before dependants. */
  needs: TocEntry[];
  /** Comments and grants on the needed objects: created with them, never alone. */
  needExtras: TocEntry[];
  /** Views and materialized views on the tree. */
  views: TocEntry[];
}

/** Kinds that are another table's business: a dependency on one is a reference, never something to bring. */
const OUTSIDE = new Set(['TABLE', 'VIEW', 'MATERIALIZED VIEW', 'MATERIALIZED VIEW DATA', 'CONSTRAINT', 'CHECK CONSTRAINT', 'FK CONSTRAINT', 'INDEX', 'INDEX ATTACH', 'TABLE DATA', 'TABLE ATTACH', 'FOREIGN TABLE', 'TRIGGER', 'POLICY', 'DEFAULT', 'RULE']);
/** Entries tagged `<table> <name>`; a CHECK CONSTRAINT entry is a check pg_dump adds after the rows (one added NOT VALID). */
const TAGGED_BY_TABLE = new Set(['CONSTRAINT', 'CHECK CONSTRAINT', 'FK CONSTRAINT', 'TRIGGER', 'POLICY', 'DEFAULT', 'RULE']);
const ANNOTATIONS = new Set(['COMMENT', 'ACL', 'SECURITY LABEL']);

/**
 * The closure of `ref` in a dump's table of contents. Throws when the dump has no such table.
 */
export function tableClosure(entries: TocEntry[], ref: TableRef): TableClosure {
  const byId = new Map(entries.map((e) => [e.dumpId, e]));
  const table = entries.find((e) => e.desc === 'TABLE' && e.schema === ref.schema && e.tag === ref.name);
  if (!table) throw new LifeboatError('E_NOT_FOUND', `the dump has no table ${ref.schema}.${ref.name}`);

  // Partitions: each TABLE ATTACH names a partition (its tag) and depends on its parent.
  const tree = [table];
  const parentOf = new Map<number, number>();
  const treeIds = new Set([table.dumpId]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const a of entries) {
      if (a.desc !== 'TABLE ATTACH') continue;
      const part = entries.find((e) => e.desc === 'TABLE' && e.schema === a.schema && e.tag === a.tag);
      const parent = a.deps.find((d) => d !== part?.dumpId && treeIds.has(d));
      if (!part || parent === undefined || treeIds.has(part.dumpId)) continue;
      tree.push(part);
      treeIds.add(part.dumpId);
      parentOf.set(part.dumpId, parent);
      grew = true;
    }
  }
  const ownerByTag = (e: TocEntry) => tree.find((t) => t.schema === e.schema && e.tag.startsWith(`${t.tag} `) && e.deps.includes(t.dumpId));

  const memberIds = new Set<number>();
  const members: TocEntry[] = [];
  const foreignKeys: TocEntry[] = [];
  const incoming: TocEntry[] = [];
  const ownedSequences: TocEntry[] = [];
  const views: TocEntry[] = [];
  const add = (e: TocEntry) => {
    memberIds.add(e.dumpId);
    members.push(e);
  };
  const onTree = (e: TocEntry) => e.deps.some((d) => treeIds.has(d));
  for (const e of entries) {
    if (treeIds.has(e.dumpId)) continue;
    if (e.desc === 'FK CONSTRAINT') {
      if (ownerByTag(e)) foreignKeys.push(e);
      else if (onTree(e)) incoming.push(e);
    } else if (TAGGED_BY_TABLE.has(e.desc)) {
      if (ownerByTag(e)) add(e);
    } else if (e.desc === 'TABLE DATA') {
      if (tree.some((t) => t.schema === e.schema && t.tag === e.tag)) add(e);
    } else if (e.desc === 'TABLE ATTACH') {
      // A partition restored alone is a table of its own: its attachment to a parent stays out.
      if (tree.some((t) => t !== table && t.schema === e.schema && t.tag === e.tag)) add(e);
    } else if (['INDEX', 'STATISTICS', 'ROW SECURITY'].includes(e.desc)) {
      if (onTree(e)) add(e);
    } else if (e.desc === 'SEQUENCE') {
      // A sequence depends on a table only through OWNED BY.
      if (onTree(e)) {
        add(e);
        ownedSequences.push(e);
      }
    } else if (e.desc === 'VIEW' || e.desc === 'MATERIALIZED VIEW') {
      if (onTree(e)) views.push(e);
    }
  }
  // An index attaches to its parent's index only when both are restored.
  for (const e of entries) if (e.desc === 'INDEX ATTACH' && onTree(e) && e.deps.every((d) => byId.get(d)?.desc !== 'TABLE' || treeIds.has(d))) add(e);
  for (const e of entries) {
    if ((e.desc === 'SEQUENCE OWNED BY' || e.desc === 'SEQUENCE SET') && ownedSequences.some((s) => e.deps.includes(s.dumpId))) add(e);
  }
  // Incoming foreign keys may also depend on the tree's primary key only.
  for (const e of entries) {
    if (e.desc === 'FK CONSTRAINT' && !ownerByTag(e) && !incoming.includes(e) && e.deps.some((d) => memberIds.has(d))) incoming.push(e);
  }
  const annotates = (e: TocEntry, ids: Set<number>) => ANNOTATIONS.has(e.desc) && e.deps.length > 0 && e.deps.every((d) => ids.has(d) || treeIds.has(d));
  for (const e of entries) if (annotates(e, memberIds)) add(e);

  // What the tree needs, walked up the dependency lists; a sequence's own dependency is its owner table.
  const needIds = new Set<number>();
  const walk = (ids: number[]) => {
    for (const id of ids) {
      const d = byId.get(id);
      if (!d || treeIds.has(id) || memberIds.has(id) || needIds.has(id) || OUTSIDE.has(d.desc) || ANNOTATIONS.has(d.desc)) continue;
      if (['ENCODING', 'STDSTRINGS', 'SEARCHPATH', 'DATABASE'].includes(d.desc)) continue;
      needIds.add(id);
      if (d.desc !== 'SEQUENCE') walk(d.deps);
    }
  };
  for (const e of [...tree, ...members]) walk(e.deps);
  const schemas = new Set([...tree, ...entries.filter((e) => needIds.has(e.dumpId))].map((e) => e.schema));
  for (const e of entries) if (e.desc === 'SCHEMA' && schemas.has(e.tag)) needIds.add(e.dumpId);
  const needs = entries.filter((e) => needIds.has(e.dumpId));
  for (const s of needs.filter((n) => n.desc === 'SEQUENCE')) {
    const set = entries.find((e) => e.desc === 'SEQUENCE SET' && e.deps.includes(s.dumpId));
    if (set) needIds.add(set.dumpId);
  }
  const needExtras = entries.filter((e) => annotates(e, needIds) || (e.desc === 'SEQUENCE SET' && needIds.has(e.dumpId)));
  return { table, tree, parentOf, members, foreignKeys, incoming, ownedSequences, needs, needExtras, views };
}

/** A pg_restore --use-list file of the given entries, in the archive's own order (its data has no offsets to seek back to). */
export function useList(entries: TocEntry[], ids: Set<number>): string {
  return entries.filter((e) => ids.has(e.dumpId)).map((e) => `${e.dumpId}; 0 0 ${e.desc} ${e.schema || '-'} ${e.tag}`).join('\n') + '\n';
}

/** `schema.name` as people read it; functions keep their argument list. */
export function entryName(e: TocEntry): string {
  return e.schema ? `${e.schema}.${e.tag}` : e.tag;
}

/** The name of an object in a `<table> <name>` tag. */
export function taggedName(e: TocEntry, table: string): string {
  return e.tag.slice(table.length + 1);
}

/** A foreign key's definition (`FOREIGN KEY (...) REFERENCES ...`) from its entry's SQL. */
export function foreignKeyDefinition(e: TocEntry): { name: string; definition: string } | undefined {
  const m = /ADD CONSTRAINT (\S+) (FOREIGN KEY [\s\S]+?);\s*$/.exec(e.definition);
  return m ? { name: m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replaceAll('""', '"') : m[1]!, definition: m[2]! } : undefined;
}

/** Names a copy of the tree takes in its schema (tables, indexes, owned sequences), from the TOC alone. */
export function closureNames(c: TableClosure): { tables: string[]; indexes: string[]; sequences: string[] } {
  const indexes = c.members.filter((e) => e.desc === 'INDEX').map((e) => e.tag);
  for (const e of c.members) {
    const m = /ADD CONSTRAINT (\S+) (?:PRIMARY KEY|UNIQUE|EXCLUDE)/.exec(e.definition);
    if (e.desc === 'CONSTRAINT' && m) indexes.push(m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replaceAll('""', '"') : m[1]!);
  }
  return { tables: c.tree.map((e) => e.tag), indexes, sequences: c.ownedSequences.map((e) => e.tag) };
}
