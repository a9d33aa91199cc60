// Which target a per-target page shows: `?target=` in the address, else the first one.
import { useId } from 'react';
import { useSearchParams } from 'wouter';
import type { TargetWithHealth } from './queries.ts';

export function useChosenTarget(targets: TargetWithHealth[]): [TargetWithHealth | undefined, (name: string) => void] {
  const [params, setParams] = useSearchParams();
  const wanted = params.get('target');
  const chosen = targets.find((t) => t.name === wanted) ?? targets[0];
  return [chosen, (name) => setParams({ target: name })];
}

export function TargetPicker({ targets, chosen, onChange }: { targets: TargetWithHealth[]; chosen: string | undefined; onChange: (name: string) => void }) {
  const id = useId();
  if (targets.length < 2) return null;
  return (
    <div className="filters">
      <div>
        <label htmlFor={id}>Target</label>
        <select id={id} value={chosen} onChange={(e) => onChange(e.target.value)}>
          {targets.map((t) => (
            <option key={t.name}>{t.name}</option>
          ))}
        </select>
      </div>
    </div>
  );
}

/** How a file-defined target's setting is changed: where in lifeboat.yaml, as YAML. */
export function FileOwnedNote({ target, keyName, value }: { target: string; keyName: string; value: unknown }) {
  return (
    <div className="notice">
      <p>
        Target <strong>{target}</strong> is defined in lifeboat.yaml, so its {keyName} is read-only here: change <code>targets.{target}.{keyName}</code> in the file and restart{' '}
        <code>lifeboat serve</code>.
      </p>
      <pre aria-label={`${keyName} in lifeboat.yaml`}>{yamlOf(target, keyName, value)}</pre>
    </div>
  );
}

function yamlOf(target: string, key: string, value: unknown): string {
  const lines = [`targets:`, `  ${target}:`];
  if (value === undefined || value === null) lines.push(`    ${key}: { ... }`);
  else if (typeof value !== 'object') lines.push(`    ${key}: ${JSON.stringify(value)}`);
  else {
    lines.push(`    ${key}:`);
    for (const [k, v] of Object.entries(value)) lines.push(`      ${k}: ${JSON.stringify(v)}`);
  }
  return lines.join('\n');
}
