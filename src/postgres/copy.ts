import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** One table's data from a plain-format dump: its column names and rows (null for \N). */
export interface CopyTable {
  table: string;
  columns: string[];
  rows: (string | null)[][];
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

/** One field of COPY's text format: backslash escapes, octal `\ooo` and hex `\xhh` bytes. */
export function copyField(text: string): string | null {
  if (text === '\\N') return null;
  if (!text.includes('\\')) return text;
  const bytes: number[] = [];
  const push = (s: string) => bytes.push(...Buffer.from(s, 'utf8'));
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '\\') {
      push(ch);
      continue;
    }
    const next = text[++i] ?? '';
    if (/[0-7]/.test(next)) {
      let oct = next;
      while (oct.length < 3 && /[0-7]/.test(text[i + 1] ?? '')) oct += text[++i];
      bytes.push(parseInt(oct, 8) & 0xff);
    } else if (next === 'x' && /[0-9a-f]/i.test(text[i + 1] ?? '')) {
      let hex = text[++i]!;
      if (/[0-9a-f]/i.test(text[i + 1] ?? '')) hex += text[++i];
      bytes.push(parseInt(hex, 16));
    } else {
      push(ESCAPES[next] ?? next);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Unquotes `"name"` as pg_dump writes identifiers. */
function identifier(s: string): string {
  const t = s.trim();
  return t.startsWith('"') ? t.slice(1, -1).replaceAll('""', '"') : t;
}

/**
 * Reads the COPY blocks of a plain SQL dump (`pg_restore --data-only -f -`) as they stream,
 * keeping the rows `keep` accepts; nothing else of the dump is held in memory.
 */
export async function readCopyData(sql: Readable, keep: (table: string, row: Record<string, string | null>) => boolean = () => true): Promise<CopyTable[]> {
  const tables: CopyTable[] = [];
  let current: CopyTable | undefined;
  for await (const line of createInterface({ input: sql, crlfDelay: Infinity })) {
    if (!current) {
      const m = /^COPY (.+?) \((.*)\) FROM stdin;$/.exec(line);
      if (m) {
        current = { table: m[1]!.split('.').map(identifier).join('.'), columns: m[2]!.split(', ').map(identifier), rows: [] };
        tables.push(current);
      }
      continue;
    }
    if (line === '\\.') {
      current = undefined;
      continue;
    }
    const values = line.split('\t').map(copyField);
    const row = Object.fromEntries(current.columns.map((c, i) => [c, values[i] ?? null]));
    if (keep(current.table, row)) current.rows.push(values);
  }
  return tables;
}
