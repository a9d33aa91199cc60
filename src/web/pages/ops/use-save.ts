import { useState } from 'react';

/** A settings form's save: busy while it runs, then saved, or the API's error to show. */
export function useSave(): { busy: boolean; saved: boolean; error: unknown; save(run: () => Promise<unknown>): void } {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  return {
    busy,
    saved,
    error,
    save: (run) => {
      setBusy(true);
      setError(undefined);
      setSaved(false);
      run()
        .then(() => setSaved(true))
        .catch(setError)
        .finally(() => setBusy(false));
    },
  };
}
