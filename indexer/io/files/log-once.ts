// A message about a lasting state (no model yet, offline) would otherwise be printed by every
// request that runs into it, burying the rest of the server log. Kept on globalThis: Next.js
// bundles this module into several server chunks, and scripts/server.ts has its own copy.
const KEY = Symbol.for('vidsearch.loggedOnce');
const g = globalThis as typeof globalThis & { [KEY]?: Set<string> };

/** Writes `line` (default: `message`) to standard error the first time `message` is seen in this process. */
export function logOnce(message: string, line: string = message): void {
  const seen = (g[KEY] ??= new Set());
  if (seen.has(message)) return;
  seen.add(message);
  process.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
}
