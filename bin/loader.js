// How Lifeboat's TypeScript sources are loaded, for the main thread (bin/lifeboat.js) and every
// worker thread (bin/thread.js): Node does not carry a thread's module hooks into a new one.
export async function prepareLoader() {
  // Node's compile cache keeps the sources with their types stripped (and V8's code for them),
  // keyed by content: later runs start in half the time and without loading the type stripper
  // (~17 MB of RSS). It lives in the user's own cache directory, not Node's default under /tmp,
  // where another local user could plant code for a root run to load. NODE_COMPILE_CACHE picks
  // another directory, NODE_DISABLE_COMPILE_CACHE=1 turns it off; an unwritable one is skipped.
  const { enableCompileCache } = await import('node:module');
  const { homedir } = await import('node:os');
  const { join } = await import('node:path');
  enableCompileCache?.(process.env.NODE_COMPILE_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lifeboat', 'compile-cache'));
  // Node strips types only outside node_modules, and `npm install -g` puts Lifeboat inside one:
  // there, this package's own sources are stripped by a load hook instead (Node's own stripper),
  // and the stripped text is kept beside the compile cache, keyed by content and Node version, so
  // later runs skip loading the stripper (~17 MB, like the compile cache does in a checkout).
  const root = new globalThis.URL('../', import.meta.url).href;
  if (root.includes('/node_modules/')) {
    const { registerHooks, stripTypeScriptTypes } = await import('node:module');
    const { createHash } = await import('node:crypto');
    const fs = await import('node:fs');
    const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lifeboat', 'stripped');
    const src = `${root}src/`;
    const emitWarning = process.emitWarning;
    // Its one "experimental" warning would be the first line of every command's output.
    process.emitWarning = (warning, ...rest) => (String(warning).includes('stripTypeScriptTypes') ? undefined : emitWarning.call(process, warning, ...rest));
    const strip = (source) => {
      const file = join(cache, `${createHash('sha256').update(process.version).update(source).digest('hex')}.js`);
      try {
        return fs.readFileSync(file, 'utf8');
      } catch {
        const stripped = stripTypeScriptTypes(source);
        try {
          fs.mkdirSync(cache, { recursive: true, mode: 0o700 });
          fs.writeFileSync(`${file}.${process.pid}`, stripped, { mode: 0o600 });
          fs.renameSync(`${file}.${process.pid}`, file);
        } catch {
          // An unwritable cache only costs the next run the stripping.
        }
        return stripped;
      }
    };
    registerHooks({
      load(url, context, nextLoad) {
        if (!url.startsWith(src) || !url.endsWith('.ts')) return nextLoad(url, context);
        const { source } = nextLoad(url, { ...context, format: 'module' });
        return { format: 'module', source: strip(String(source)), shortCircuit: true };
      },
    });
  }
}
