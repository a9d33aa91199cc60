#!/usr/bin/env -S node --max-semi-space-size=2
// Entry point for `npx lifeboat`: Node 24 runs the TypeScript sources directly (type stripping).
// A 2 MB young generation (V8's default grows to 16 MB) makes the garbage collector free the
// buffers a streamed backup leaves behind sooner: they die young, but only a collection frees
// them. Peak RSS of a 1 GB encrypted backup 170-205 MB with 4 MB, 147 MB with 2 MB, at the same
// wall time within 3% (bench/README.md). V8 reads it only at start, hence the shebang.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(`lifeboat needs Node.js 24 or newer (this is ${process.version}): install Node 24 (README.md, "Install"). In a git checkout, \`npx lifeboat\` runs the Node 24 that \`npm install\` brought.`);
  process.exit(2);
}
const { prepareLoader } = await import('./loader.js');
await prepareLoader();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
