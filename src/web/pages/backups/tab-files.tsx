// Files: each file set as a tree (directories open on demand, so a set of 50,000 files draws only
// what is opened), with size, mode and sha256 from the manifest.
import { useMemo, useState } from 'react';
import { formatBytes, Time } from '../../components/format.tsx';
import { EmptyState } from '../../components/page.tsx';
import type { Manifest, ManifestFile } from './manifest.ts';

/** A directory of the tree: its entries by name. */
export interface TreeNode {
  name: string;
  path: string;
  file?: ManifestFile;
  children: Map<string, TreeNode>;
  /** Files below it, and their bytes. */
  count: number;
  bytes: number;
}

/** One tree per file set, from the flat list the manifest keeps. */
export function buildTrees(files: ManifestFile[]): Map<string, TreeNode> {
  const sets = new Map<string, TreeNode>();
  for (const f of files) {
    let node = sets.get(f.set);
    if (!node) sets.set(f.set, (node = { name: f.set, path: '', children: new Map(), count: 0, bytes: 0 }));
    const parts = f.path.split('/').filter(Boolean);
    let path = '';
    for (const part of parts) {
      path += `/${part}`;
      node.count += f.type === 'file' ? 1 : 0;
      node.bytes += f.type === 'file' ? f.size : 0;
      let next = node.children.get(part);
      if (!next) node.children.set(part, (next = { name: part, path, children: new Map(), count: 0, bytes: 0 }));
      node = next;
    }
    node.file = f;
    if (f.type === 'file') {
      node.count += 1;
      node.bytes += f.size;
    }
  }
  return sets;
}

/** Collapses chains of single directories (/srv/app/media) into one line, as file browsers do. */
function collapse(node: TreeNode): TreeNode {
  let n = node;
  let label = n.name;
  while (n.children.size === 1 && !n.file?.sha256) {
    const only = [...n.children.values()][0]!;
    if (only.children.size === 0) break;
    label += `/${only.name}`;
    n = only;
  }
  return label === n.name ? n : { ...n, name: label };
}

export function FilesTab({ manifest }: { manifest: Manifest }) {
  const trees = useMemo(() => buildTrees(manifest.files), [manifest.files]);
  if (trees.size === 0) return <EmptyState title="This backup holds no files.">Add a file set to the target (files: in lifeboat.yaml) to back up uploads or config.</EmptyState>;
  return (
    <>
      <ul className="tree" aria-label="File sets">
        {[...trees.values()].map((t) => (
          <Branch key={t.name} node={t} root />
        ))}
      </ul>
      {manifest.skipped.length > 0 && (
        <>
          <h2>Left out</h2>
          <ul className="checks">
            {manifest.skipped.map((s) => (
              <li key={`${s.set}:${s.path}`} className="check-warn">
                {s.set}: <code>{s.path}</code>: {s.reason}
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

function Branch({ node, root }: { node: TreeNode; root?: boolean }) {
  const [open, setOpen] = useState(!!root);
  const shown = collapse(node);
  if (shown.children.size === 0 && shown.file) return <Leaf name={shown.name} f={shown.file} />;
  const children = [...shown.children.values()].sort((a, b) => Number(b.children.size > 0) - Number(a.children.size > 0) || a.name.localeCompare(b.name));
  return (
    <li>
      <details open={open} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
        <summary>
          {root ? <strong>set {shown.name}</strong> : <span>{shown.name}/</span>}{' '}
          <span className="muted small">
            {shown.count} file{shown.count === 1 ? '' : 's'}, {formatBytes(shown.bytes)}
          </span>
        </summary>
        {open && (
          <ul>
            {children.map((c) => (
              <Branch key={c.name} node={c} />
            ))}
          </ul>
        )}
      </details>
    </li>
  );
}

function Leaf({ name, f }: { name: string; f: ManifestFile }) {
  return (
    <li className="leaf">
      <code>{name}</code>{' '}
      <span className="muted small">
        {f.type === 'symlink' ? `→ ${f.linkTarget ?? '?'}` : formatBytes(f.size)} · mode {(f.mode & 0o7777).toString(8).padStart(4, '0')} · <Time at={f.mtime} />
      </span>
      {f.sha256 && (
        <div className="muted small">
          sha256 <code className="hash">{f.sha256}</code>
        </div>
      )}
    </li>
  );
}
