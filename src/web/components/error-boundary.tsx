import { Component, type ReactNode } from 'react';

/**
 * A screen that throws while rendering shows what happened, with the rest of the console (the
 * navigation) still usable, instead of a blank page. Keyed by the location, so moving elsewhere
 * tries again.
 */
export class ScreenErrorBoundary extends Component<{ children: ReactNode }, { error: Error | undefined }> {
  override state: { error: Error | undefined } = { error: undefined };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <div className="problem" role="alert">
        <strong>This screen failed to show: </strong>
        {this.state.error.message}
        <div className="hint">Reload the page; if it happens again, the browser console has the details for a bug report.</div>
      </div>
    );
  }
}
