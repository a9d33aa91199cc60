#!/usr/bin/env node
// Entry point for `npx lifeboat`: Node 24 runs the TypeScript sources directly (type stripping).
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(`lifeboat needs Node.js 24 or newer (this is ${process.version}). Run it through npm (npx lifeboat, npm start), which uses the Node 24 that npm install brought, or install Node 24.`);
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
