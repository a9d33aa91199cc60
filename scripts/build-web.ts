// Builds the web UI (src/web) into dist/web, which `lifeboat serve` serves at /. Run by
// `npm install` (prepare), so a fresh clone's `npm start` has a UI; `--dev` runs Vite's dev
// server instead, with /api, /metrics and the health routes sent on to a `lifeboat serve`
// (LIFEBOAT_URL, default http://127.0.0.1:8080).
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { build, createServer, type InlineConfig } from 'vite';

const root = fileURLToPath(new URL('../src/web', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/web', import.meta.url));
const backend = process.env.LIFEBOAT_URL ?? 'http://127.0.0.1:8080';
const config: InlineConfig = {
  root,
  configFile: false,
  logLevel: 'warn',
  plugins: [react()],
  build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 600 },
  server: { proxy: Object.fromEntries(['/api', '/metrics', '/healthz', '/readyz'].map((p) => [p, { target: backend, changeOrigin: false }])) },
};

if (process.argv.includes('--dev')) {
  const server = await createServer(config);
  await server.listen();
  server.printUrls();
} else {
  await build(config);
  console.error(`web UI built into ${outDir}`);
}
