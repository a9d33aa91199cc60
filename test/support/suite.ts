import { after, before } from 'node:test';
import { startTestServer, type TestServer } from './postgres.ts';
import { workspace, type Workspace, type WorkspaceOptions } from './workspace.ts';

/**
 * One throwaway PostgreSQL server for a test file: started before its tests, stopped after them,
 * with the workspaces the tests made. Read `server` inside tests (it exists once they run).
 */
export function useTestServer(): { readonly server: TestServer; workspace(options?: WorkspaceOptions): Workspace } {
  let server: TestServer | undefined;
  const spaces: Workspace[] = [];
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
    for (const ws of spaces) ws.remove();
  });
  return {
    get server() {
      return server!;
    },
    workspace(options?: WorkspaceOptions) {
      const ws = workspace(options);
      spaces.push(ws);
      return ws;
    },
  };
}
