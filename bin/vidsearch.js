#!/usr/bin/env node
// Entry point for `vidsearch`. The engine is TypeScript. It runs as one bundle that esbuild makes
// here, on first use and again whenever a source file is newer than the bundle, so there is still
// no build step between `npm install` and the first command, and an edited source is never run
// stale. Compiling ~60 modules through tsx's loader at every start cost each command about 0.25 s
// (npm run bench -- --only=cli). Where the bundle cannot be written (a read-only installation),
// tsx's loader runs the sources as before.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = 'indexer/cli/cli.ts';
const BUNDLE = path.join(ROOT, 'dist', 'cli.mjs');
/** the sources the bundle was made from, relative to ROOT, to tell when it is stale */
const INPUTS = `${BUNDLE}.inputs.json`;

function fresh() {
  try {
    const built = fs.statSync(BUNDLE).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(INPUTS, 'utf8'));
    return inputs.length > 0 && inputs.every((f) => fs.statSync(path.join(ROOT, f)).mtimeMs <= built);
  } catch {
    return false;
  }
}

// pg's optional native binding and PGlite's WebAssembly files are found next to their modules.
const EXTERNAL = ['onnxruntime-node', 'better-sqlite3', 'hnswlib-node', 'pg', 'pg-native', '@electric-sql/*', '@prisma/*', '.prisma/*', 'prisma', '@ffmpeg-installer/*', '@ffprobe-installer/*', 'tsx', 'esbuild'];

async function build() {
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Native addons and Prisma's generated client stay imports, resolved from node_modules as with
    // tsx; pure-JavaScript packages are bundled in: loading zod file by file took 0.13 s alone.
    external: EXTERNAL,
    write: false,
    metafile: true,
    outfile: BUNDLE,
    logLevel: 'silent',
  });
  // Packages change only with an install, which rewrites node_modules: watching the sources is enough.
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('node_modules/'));
  // Written under temporary names and renamed, so a concurrent start never imports half a file.
  fs.mkdirSync(path.dirname(BUNDLE), { recursive: true });
  const tmp = `${BUNDLE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, result.outputFiles[0].contents);
  fs.writeFileSync(`${INPUTS}.${process.pid}.tmp`, JSON.stringify(inputs));
  fs.renameSync(tmp, BUNDLE);
  fs.renameSync(`${INPUTS}.${process.pid}.tmp`, INPUTS);
}

async function load() {
  if (process.env.VIDSEARCH_CLI_SOURCES !== '1') {
    try {
      if (!fresh()) await build();
      return await import(pathToFileURL(BUNDLE).href);
    } catch {
      // fall through to the loader: the sources run as they are
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import(pathToFileURL(path.join(ROOT, ENTRY)).href);
}

// `vidsearch search x | head`: the reader leaving early is not an error worth a stack trace.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
const { main } = await load();
process.exitCode = await main(process.argv.slice(2));
