import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { age } from '../bundle/age.ts';
import { x25519Recipient } from '../bundle/age-header.ts';
import { LifeboatError } from '../errors.ts';
import { indirectPaths } from './objects-secrets.ts';
import { checkPaths } from './paths.ts';
import { configSchema, type Config } from './schema.ts';
import { deferUnresolved, getIn, interpolate, type Unresolved, type Where } from './secrets.ts';

/** A loaded, validated configuration and where it came from. */
export interface LoadedConfig {
  /** Absolute path of the file that was read. */
  file: string;
  config: Config;
  /** The catalog's directory: LIFEBOAT_HOME, else `home` in the file, else `.lifeboat` beside the file. */
  home: string;
  /** What loading decided on the user's behalf (relative paths resolved), for `lifeboat config check`. */
  notes?: string[];
  /** Values whose `${VAR}` is not available: an error only for the commands that read them. */
  unresolved?: LifeboatError[];
  /** Dotted key paths whose value the file writes with `${VAR}`: shown as secrets (objects-secrets.ts). */
  indirect?: string[];
}

/** The config file named by --config, LIFEBOAT_CONFIG, or ./lifeboat.yaml. */
export function configPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(explicit ?? env.LIFEBOAT_CONFIG ?? 'lifeboat.yaml');
}

/**
 * The configuration of a server started before any file exists (`lifeboat serve` in an empty
 * directory): no targets, no storages; they are then created in the web UI or the API.
 */
export function emptyConfig(file: string): LoadedConfig {
  return parseConfig('storages: {}\ntargets: {}\n', file);
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new LifeboatError('E_CONFIG', `${file}: ${missing ? 'no such file' : (err as Error).message}`, {
      cause: err,
      hint: missing ? 'run `lifeboat init` to write one, or pass --config <file>' : undefined,
    });
  }
  return parseConfig(text, file, env);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const at = lines.linePos(yamlError.pos[0]);
    throw new LifeboatError('E_CONFIG', `${file}:${at.line}:${at.col}: malformed YAML: ${firstLine(yamlError.message)}`);
  }
  const where = (keyPath: readonly PropertyKey[]) => locate(doc, lines, keyPath, file);
  const unresolved: Unresolved[] = [];
  const written: unknown = doc.toJS() ?? {};
  const raw = interpolate(written, [], env, where, unresolved);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => {
      // A value validation rejects because its variable is unset: the variable is the news.
      const cause = unresolved.find((u) => sameKeyPath(u.keyPath, issue.path));
      return cause ? cause.error.message : describeIssue(issue, raw, where);
    });
    throw new LifeboatError('E_CONFIG', issues.join('\n'));
  }
  const config = parsed.data;
  // From here on, reading a value whose variable is unset throws; what follows reads only what
  // every command needs (names, paths), so those fail now and secrets wait for their reader.
  deferUnresolved(config, unresolved);
  const dir = path.dirname(file);
  checkReferences(config, where);
  for (const storage of Object.values(config.storages)) {
    if (storage.type === 'local') storage.path = path.resolve(dir, storage.path);
  }
  if (config.tempDir) config.tempDir = path.resolve(dir, config.tempDir);
  const home = path.resolve(dir, env.LIFEBOAT_HOME ?? config.home ?? '.lifeboat');
  const notes = checkPaths(config, { dir, home, where, env, raw });
  return { file, config, home, notes, unresolved: unresolved.map((u) => u.error), indirect: indirectPaths(written) };
}

function sameKeyPath(a: readonly PropertyKey[], b: readonly PropertyKey[]): boolean {
  return a.length === b.length && a.every((k, i) => String(k) === String(b[i]));
}

/** `file:line:col: a.b.c` for a key path, as precise as the document allows. */
function locate(doc: Document, lines: LineCounter, keyPath: readonly PropertyKey[], file: string): string {
  const dotted = keyPath.map(String).join('.') || '(top level)';
  for (let n = keyPath.length; n >= 0; n--) {
    const node = doc.getIn(keyPath.slice(0, n) as unknown[], true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range && (isScalar(node) || isMap(node) || isSeq(node))) {
      const at = lines.linePos(range[0]);
      return `${file}:${at.line}:${at.col}: ${dotted}`;
    }
  }
  return `${file}: ${dotted}`;
}

/** One zod issue as a line a person can act on: where, what was expected, what was found. */
export function describeIssue(issue: z.core.$ZodIssue, raw: unknown, where: Where): string {
  const keyPath = issue.path;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => `${where([...keyPath, key])}: unknown key "${key}" (check its spelling; README.md lists every key)`)
      .join('\n');
  }
  if (issue.code === 'invalid_key') {
    const key = String(keyPath.at(-1));
    return `${where(keyPath)}: invalid name "${key}": ${issue.issues[0]?.message ?? issue.message}`;
  }
  const got = describeValue(getIn(raw, keyPath));
  if (issue.code === 'invalid_union' && got !== 'nothing') {
    return `${where(keyPath)}: ${unionExpectation(issue)}, got ${got}`;
  }
  if (got === 'nothing') return `${where(keyPath)}: required key is missing`;
  return `${where(keyPath)}: ${issue.message.replace(/^Invalid input: /, '')}; got ${got}`;
}

function unionExpectation(issue: z.core.$ZodIssueInvalidUnion): string {
  const messages = issue.errors.flat().map((e) => e.message.replace(/^Invalid input: /, ''));
  return [...new Set(messages)].join(', or ') || 'unexpected value';
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `"${value.length > 40 ? value.slice(0, 37) + '...' : value}"`;
  return `${typeof value} ${String(value)}`;
}

/** Storages that targets name exist; a target has something to back up; age recipients parse. */
export function checkReferences(config: Config, where: Where): void {
  const storages = Object.keys(config.storages);
  for (const [target, t] of Object.entries(config.targets)) {
    const refs = [t.storage.primary, ...t.storage.replicas];
    refs.forEach((ref, i) => {
      if (!config.storages[ref]) {
        const key = i === 0 ? 'primary' : 'replicas';
        throw new LifeboatError(
          'E_CONFIG',
          `${where(['targets', target, 'storage', key])}: no storage named "${ref}"; configured storages: ${storages.join(', ') || 'none'}`,
        );
      }
    });
    if (!t.postgres && Object.keys(t.files).length === 0) {
      throw new LifeboatError('E_CONFIG', `${where(['targets', target])}: a target needs postgres, files, or both`);
    }
    if (t.encryption && 'recipients' in t.encryption) {
      t.encryption.recipients.forEach((recipient, i) => {
        // X25519 recipients are checked without loading the age library (~35 MB); others by it.
        if (x25519Recipient(recipient)) return;
        try {
          new (age().Encrypter)().addRecipient(recipient);
        } catch (err) {
          throw new LifeboatError(
            'E_CONFIG',
            `${where(['targets', target, 'encryption', 'recipients', i])}: not an age recipient: "${recipient.slice(0, 20)}${recipient.length > 20 ? '...' : ''}" (${(err as Error).message})`,
            { hint: 'an age recipient looks like age1... (62 characters); `age-keygen` prints one' },
          );
        }
      });
    }
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
