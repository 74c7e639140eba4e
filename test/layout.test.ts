// The layout of indexer/ (see indexer/index.ts): app/ and scripts/ reach the engine only through its
// entry points, nothing at run time imports the test kit, and core/ stays free of I/O. A source scan,
// no module is loaded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');

/** What app/ and scripts/ may import from indexer/. */
const ENTRY_POINTS = ['indexer/index.ts', 'indexer/client.ts', 'indexer/settings.ts'];
const TESTKIT = 'indexer/testkit/';
/** The scripts that make test models and sample videos (the demo library, the HTTP benchmark). */
const TESTKIT_USERS = ['scripts/demo.ts', 'scripts/bench-http.ts'];
/** Packages core/ must not import: file, process, model, database and index I/O. */
const IO_PACKAGES = /^(node:)?(fs|fs\/promises|child_process|worker_threads|net|http|https)$|^(onnxruntime-node|@prisma\/|better-sqlite3|hnswlib-node|chokidar|@ffmpeg-installer|@ffprobe-installer|@huggingface\/tokenizers)/;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sources(rel));
    else if (/\.tsx?$/.test(e.name)) out.push(rel);
  }
  return out;
}

/** Every module specifier of a file: static imports and re-exports, side-effect imports, import(). */
export function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|[;\s])(?:import|export)\s[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]/g)) out.push(m[1]);
  for (const m of text.matchAll(/(?:^|[;\s])import\s*['"]([^'"]+)['"]/g)) out.push(m[1]);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]);
  return out;
}

/** A project-relative module path (e.g. "indexer/core/vectors.ts"), or undefined for a package. */
function resolve(file: string, spec: string): string | undefined {
  let base: string;
  if (spec.startsWith('@/')) base = spec.slice(2);
  else if (spec.startsWith('.')) base = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
  else return undefined;
  for (const c of [base, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`]) {
    const abs = path.join(REPO_ROOT, c);
    if (fs.existsSync(abs) && fs.statSync(abs).isFile()) return c;
  }
  return base;
}

interface Import {
  file: string;
  spec: string;
  target: string | undefined;
}

/** A source file: its project-relative path and its text. */
interface Source {
  file: string;
  text: string;
}

const read = (files: string[]): Source[] => files.map((file) => ({ file, text: fs.readFileSync(path.join(REPO_ROOT, file), 'utf8') }));

function importsOf(files: Source[]): Import[] {
  return files.flatMap(({ file, text }) => specifiers(text).map((spec) => ({ file, spec, target: resolve(file, spec) })));
}

const show = (list: Import[]) => list.map((i) => `${i.file}: '${i.spec}'`).join('\n');

/** The imports that break the layout rules, for the given app/scripts files and indexer files. */
export function layoutViolations(outside: Source[], inside: Source[]): { facade: Import[]; testkit: Import[]; core: Import[] } {
  const out = importsOf(outside);
  const ins = importsOf(inside);
  const isTestkit = (t: string | undefined) => t !== undefined && (t.startsWith(TESTKIT) || t === 'indexer/testkit');
  return {
    facade: out.filter((i) => i.target?.startsWith('indexer/') && !ENTRY_POINTS.includes(i.target) && !(isTestkit(i.target) && TESTKIT_USERS.includes(i.file))),
    testkit: [...ins.filter((i) => !i.file.startsWith(TESTKIT) && isTestkit(i.target)), ...out.filter((i) => isTestkit(i.target) && !TESTKIT_USERS.includes(i.file))],
    core: ins.filter((i) => i.file.startsWith('indexer/core/') && (i.target === undefined ? IO_PACKAGES.test(i.spec) : !i.target.startsWith('indexer/core/'))),
  };
}

describe('the layout of indexer/', () => {
  const outside = [...sources('app'), ...sources('scripts')];
  const inside = sources('indexer');
  const v = layoutViolations(read(outside), read(inside));

  it('app/ and scripts/ import the engine only through indexer/index.ts (or client.ts, settings.ts)', () => {
    assert.ok(outside.length > 20 && inside.length > 40, 'the scan found the sources');
    assert.equal(show(v.facade), '', `import the engine through '@/indexer' (or '../indexer/index'); these reach inside it:\n${show(v.facade)}`);
  });

  it('nothing at run time imports indexer/testkit', () => {
    assert.equal(show(v.testkit), '', `indexer/testkit is for tests, the benchmark and ${TESTKIT_USERS.join(', ')}:\n${show(v.testkit)}`);
  });

  it('indexer/core/ does no I/O and imports nothing from the layers above it', () => {
    assert.equal(show(v.core), '', `core/ is pure: no fs, child_process, onnxruntime, Prisma, SQLite, nor io/ or services/:\n${show(v.core)}`);
  });

  it('each check catches a bad import', () => {
    const app = { file: 'app/x/page.tsx', text: "import { Store } from '@/indexer/io/db/store';\nimport { openEngine } from '@/indexer';\nexport type { Config } from '../../indexer/services/config';\n" };
    assert.deepEqual(specifiers(app.text), ['@/indexer/io/db/store', '@/indexer', '../../indexer/services/config']);
    assert.deepEqual(layoutViolations([app], []).facade.map((i) => i.spec), ['@/indexer/io/db/store', '../../indexer/services/config']);
    const lazy = { file: 'scripts/x.ts', text: "const m = await import('../indexer/testkit/build');\n" };
    assert.deepEqual(layoutViolations([lazy], []).testkit.map((i) => i.spec), ['../indexer/testkit/build']);
    const demo = { file: 'scripts/demo.ts', text: "import { buildTestModel } from '../indexer/testkit';\n" };
    assert.deepEqual(layoutViolations([demo], []), { facade: [], testkit: [], core: [] });
    const core = { file: 'indexer/core/x.ts', text: "import fs from 'node:fs';\nimport { Store } from '../io/db/store';\nimport { dot } from './vectors';\nimport { z } from 'zod';\nimport { buildTestModel } from '../testkit/build';\n" };
    const c = layoutViolations([], [core]);
    assert.deepEqual(c.core.map((i) => i.spec), ['node:fs', '../io/db/store', '../testkit/build']);
    assert.deepEqual(c.testkit.map((i) => i.spec), ['../testkit/build']);
  });
});
