// Dialogs on the browser's own <dialog>: modal, focus kept inside, Escape closes, focus returns
// to what opened it. Every destructive action goes through ConfirmDialog, which names exactly
// what will happen and, for data replaced, asks for a typed word.
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { ProblemMessage } from './problem.tsx';

export function Dialog({ open, title, onClose, children, wide }: { open: boolean; title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      d.showModal();
      // showModal() focuses the first focusable element (the close button), after React has
      // run autoFocus: the element a dialog marks with data-autofocus gets it back.
      d.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    }
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} className={wide ? 'dialog wide' : 'dialog'} aria-labelledby={id} onClose={onClose} onCancel={onClose}>
      {open && (
        <>
          <header className="dialog-head">
            <h2 id={id}>{title}</h2>
            <button type="button" className="icon" aria-label="Close" onClick={onClose}>
              ×
            </button>
          </header>
          <div className="dialog-body">{children}</div>
        </>
      )}
    </dialog>
  );
}

export interface ConfirmProps {
  open: boolean;
  title: string;
  /** Exactly what will happen, naming the objects. */
  children: ReactNode;
  confirmLabel: string;
  /** A word the user must type first (e.g. RESTORE) when data is replaced or lost. */
  typeToConfirm?: string;
  danger?: boolean;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}

export function ConfirmDialog({ open, title, children, confirmLabel, typeToConfirm, danger, onConfirm, onClose }: ConfirmProps) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const inputId = useId();
  useEffect(() => {
    if (open) {
      setTyped('');
      setError(undefined);
    }
  }, [open]);
  const ready = !typeToConfirm || typed === typeToConfirm;
  return (
    <Dialog open={open} title={title} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!ready || busy) return;
          setBusy(true);
          setError(undefined);
          onConfirm()
            .then(() => onClose())
            .catch(setError)
            .finally(() => setBusy(false));
        }}
      >
        <div className="confirm-text">{children}</div>
        {typeToConfirm && (
          <p>
            <label htmlFor={inputId}>
              Type <code>{typeToConfirm}</code> to confirm
            </label>
            <input id={inputId} autoComplete="off" value={typed} onChange={(e) => setTyped(e.target.value)} data-autofocus />
          </p>
        )}
        <ProblemMessage error={error} />
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className={danger ? 'danger' : 'primary'} disabled={!ready || busy} data-autofocus={typeToConfirm ? undefined : true}>
            {busy ? 'Working…' : confirmLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
