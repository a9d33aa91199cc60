// Creating or changing a storage made here: local (any mounted path), S3, SFTP or rclone.
import { useState } from 'react';
import { ProblemMessage } from '../../components/problem.tsx';
import { Checkbox, Field, SecretField, Select } from './fields.tsx';
import { fromConfig, toBody, type FieldSpec, type FormValues } from './form-values.ts';
import { SET, useSaveObject, type ConfigObject } from './objects.ts';

type StorageType = 'local' | 's3' | 'sftp' | 'rclone';
const TYPES = [['local', 'Local path (a disk, NAS or NFS mount)'], ['s3', 'S3-compatible object storage'], ['sftp', 'SFTP server'], ['rclone', 'rclone remote (Google Drive, ...)']] as const;

interface Spec extends FieldSpec { label: string; help?: string; required?: boolean }
const FIELDS: Record<StorageType, Spec[]> = {
  local: [{ key: 'path', label: 'Path', required: true, help: 'created when missing' }],
  s3: [
    { key: 'bucket', label: 'Bucket', required: true }, { key: 'prefix', label: 'Prefix', help: 'e.g. n8n/' }, { key: 'region', label: 'Region' },
    { key: 'endpoint', label: 'Endpoint URL', help: 'for S3-compatible services (MinIO, Backblaze, ...)' }, { key: 'pathStyle', label: 'Path-style URLs', kind: 'boolean' },
    { key: 'accessKeyId', label: 'Access key id' }, { key: 'secretAccessKey', label: 'Secret access key', secret: true },
  ],
  sftp: [
    { key: 'host', label: 'Host', required: true }, { key: 'port', label: 'Port', kind: 'number' }, { key: 'username', label: 'User name', required: true },
    { key: 'password', label: 'Password', secret: true }, { key: 'privateKey', label: 'Private key file' }, { key: 'passphrase', label: 'Key passphrase', secret: true },
    { key: 'path', label: 'Remote path', required: true }, { key: 'hostKey', label: 'Host key fingerprint', help: 'SHA256:… as ssh-keyscan | ssh-keygen -lf - shows it' },
  ],
  rclone: [{ key: 'remote', label: 'Remote', required: true, help: 'e.g. gdrive:backups' }, { key: 'configFile', label: 'rclone config file' }],
};
const COMMON: Spec[] = [{ key: 'quota', label: 'Quota', help: 'optional, e.g. 100GB: retention keeps use under it' }];

/** The form; `existing` makes it an edit of that storage (its name fixed). */
export function StorageForm({ existing, onSaved, submitLabel }: { existing?: ConfigObject; onSaved: (o: ConfigObject) => void; submitLabel?: string }) {
  const save = useSaveObject('storage');
  const [name, setName] = useState(existing?.name ?? '');
  const [type, setType] = useState<StorageType>((existing?.config.type as StorageType | undefined) ?? 'local');
  const fields = [...FIELDS[type], ...COMMON];
  const [values, setValues] = useState<FormValues>(() => fromConfig([...FIELDS[type], ...COMMON], existing?.config));
  const set = (k: string, v: string | boolean | undefined) => setValues((s) => ({ ...s, [k]: v }));
  const typeChanged = !!existing && existing.config.type !== type;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        const body = { type, ...toBody(fields, values, !!existing && !typeChanged) };
        save.mutate({ name, config: body, existing: !!existing }, { onSuccess: onSaved });
      }}
    >
      <div className="form-grid">
        <Field label="Storage name" value={name} onChange={setName} required disabled={!!existing} placeholder="e.g. nas" help={existing ? 'names cannot change' : 'letters, digits, - and _'} />
        <Select label="Type" value={type} onChange={(t) => { setType(t); setValues(fromConfig([...FIELDS[t], ...COMMON], t === existing?.config.type ? existing.config : undefined)); }} options={TYPES} />
      </div>
      <div className="form-grid">
        {fields.map((f) =>
          f.secret ? (
            <SecretField key={`${type}-${f.key}`} label={f.label} stored={!typeChanged && existing?.config[f.key] === SET} value={values[f.key] as string | undefined} onChange={(v) => set(f.key, v)} />
          ) : f.kind === 'boolean' ? (
            <div className="field" key={f.key}><Checkbox label={f.label} checked={values[f.key] === true} onChange={(v) => set(f.key, v)} /></div>
          ) : (
            <Field key={`${type}-${f.key}`} label={f.label} value={(values[f.key] as string | undefined) ?? ''} onChange={(v) => set(f.key, v)} required={f.required} help={f.help} type={f.kind === 'number' ? 'number' : 'text'} />
          ),
        )}
      </div>
      <ProblemMessage error={save.error} />
      <div className="dialog-actions">
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? 'Saving…' : submitLabel ?? (existing ? 'Save changes' : 'Create storage')}
        </button>
      </div>
    </form>
  );
}
