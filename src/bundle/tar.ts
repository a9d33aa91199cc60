/**
 * Tar headers (POSIX ustar, with a pax extended header where a field does not fit), for the
 * bundle writer, which writes the tar stream itself so that each member's bytes go straight into
 * the compressor's blocks (writer.ts). Written by hand: tar-stream's packer (still used to read)
 * queues every written buffer until the compressor takes it, which ruled out reusing buffers,
 * and its header encoder is not exported. GNU tar, bsdtar and tar-stream read what this writes.
 */

export const TAR_BLOCK = 512;

export interface TarEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  size?: number;
  mode?: number;
  mtime?: Date;
  uid?: number;
  gid?: number;
  linkname?: string;
}

const TYPE_FLAG = { file: '0', directory: '5', symlink: '2' } as const;
/** The largest size an 11-digit octal field holds (8 GiB - 1). */
const MAX_OCTAL_SIZE = 0o77777777777;
const MAX_ID = 0o7777777;

/** The bytes before a member's data: its header, after a pax header when one is needed. */
export function tarHeader(entry: TarEntry): Buffer {
  const size = entry.type === 'file' ? (entry.size ?? 0) : 0;
  const name = entry.type === 'directory' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name;
  const pax: Record<string, string> = {};
  const split = splitName(name);
  if (!split) pax.path = name;
  const linkname = entry.linkname ?? '';
  if (Buffer.byteLength(linkname) > 100 || !isAscii(linkname)) pax.linkpath = linkname;
  if (size > MAX_OCTAL_SIZE) pax.size = String(size);
  const uid = entry.uid ?? 0;
  const gid = entry.gid ?? 0;
  if (uid > MAX_ID) pax.uid = String(uid);
  if (gid > MAX_ID) pax.gid = String(gid);
  const mtime = Math.max(0, Math.floor((entry.mtime ?? new Date()).getTime() / 1000));
  const header = ustar({
    name: split?.name ?? fallbackName(name),
    prefix: split?.prefix ?? '',
    mode: entry.mode ?? (entry.type === 'directory' ? 0o755 : 0o644),
    uid: uid > MAX_ID ? 0 : uid,
    gid: gid > MAX_ID ? 0 : gid,
    size: size > MAX_OCTAL_SIZE ? 0 : size,
    mtime,
    type: TYPE_FLAG[entry.type],
    linkname: pax.linkpath === undefined ? linkname : '',
  });
  if (Object.keys(pax).length === 0) return header;
  const records = Buffer.from(Object.entries(pax).map(([k, v]) => paxRecord(k, v)).join(''));
  const paxHeader = ustar({ name: fallbackName(`PaxHeader/${name}`), prefix: '', mode: 0o644, uid: 0, gid: 0, size: records.length, mtime, type: 'x', linkname: '' });
  return Buffer.concat([paxHeader, records, Buffer.alloc(tarPadding(records.length)), header]);
}

/** Zero bytes that bring a member of `size` bytes to a whole number of blocks. */
export function tarPadding(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
}

/** The end of the archive: two zero blocks. */
export const TAR_END = Buffer.alloc(2 * TAR_BLOCK);

function ustar(f: { name: string; prefix: string; mode: number; uid: number; gid: number; size: number; mtime: number; type: string; linkname: string }): Buffer {
  const b = Buffer.alloc(TAR_BLOCK);
  b.write(f.name, 0, 100, 'utf8');
  octal(b, 100, 8, f.mode & 0o7777);
  octal(b, 108, 8, f.uid);
  octal(b, 116, 8, f.gid);
  octal(b, 124, 12, f.size);
  octal(b, 136, 12, f.mtime);
  b.write(f.type, 156, 1, 'latin1');
  b.write(f.linkname, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'latin1');
  b.write(f.prefix, 345, 155, 'utf8');
  // The checksum is the sum of the header's bytes with its own field counted as spaces.
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += b[i]!;
  b.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return b;
}

function octal(b: Buffer, at: number, width: number, value: number): void {
  b.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, at, width, 'latin1');
}

/** The name split into ustar's prefix and name fields, or undefined when a pax path is needed. */
function splitName(name: string): { prefix: string; name: string } | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= 100) return { prefix: '', name };
  // Split at a slash so the prefix (up to 155) and the rest (up to 100) both fit.
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    // Further left the rest only grows.
    if (rest.length > 100) break;
    if (prefix.length <= 155 && rest.length > 0) return { prefix, name: rest };
  }
  return undefined;
}

/** What old readers that ignore pax headers see: the name cut to the field, bytes not split. */
function fallbackName(name: string): string {
  let out = '';
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > 100) break;
    out += ch;
  }
  return out;
}

/** One pax record: "<length> <key>=<value>\n", where the length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bytes = Buffer.byteLength(body);
  let length = bytes + String(bytes).length;
  if (String(length).length !== String(bytes).length) length = bytes + String(length).length;
  return `${length}${body}`;
}

function isAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s);
}
