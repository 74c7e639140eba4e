// The model identity policy: which stored identities a process may open (vectors of another model
// cannot be compared; another pooling can be re-pooled), how a stored identity is parsed and
// checked, and the words a user reads when it is refused or damaged. The identity itself is stored
// by the identity repository (core/storage.ts).
import { DataError, StoreError, errorMessage } from '../core/errors';
import type { StoreIdentity } from '../core/storage';

/** The parts of the identity that decide whether vectors are comparable. */
export function identityKey(i: StoreIdentity): string {
  const files = Object.keys(i.model.files)
    .sort()
    .map((f) => `${f}=${i.model.files[f]}`);
  const pooler = i.pooler ? [i.pooler.sha256, i.pooler.chunkFrames] : [];
  return JSON.stringify([i.model.name, i.model.variant, i.model.dim, files, i.pooling, ...pooler]);
}

/** The model part of the identity only: equal keys mean the frame vectors are comparable. */
export function modelKey(i: StoreIdentity): string {
  return identityKey({ model: i.model, pooling: 'mean' });
}

/**
 * The identity row, parsed and checked for the fields every command relies on. A damaged row
 * (hand-edited, half-written by another tool) would otherwise surface as "Expected property
 * name…" or an undefined dimension far from here.
 */
export function parseIdentity(value: string): StoreIdentity {
  const damaged = (why: string) =>
    new DataError(
      `the identity row of the database (table Setting, key "identity": the model the vectors were made with) is damaged: ${why}; ` +
        `run \`vidsearch doctor\` to check the data directory, and re-index with \`vidsearch index --reindex <folder>\` to record the current model`,
      { cause: { table: 'Setting', row: 'identity', column: 'value' } },
    );
  let v: StoreIdentity;
  try {
    v = JSON.parse(value);
  } catch (err) {
    throw damaged(`not JSON (${errorMessage(err)})`);
  }
  const m = v?.model;
  if (!m || typeof m.name !== 'string' || typeof m.variant !== 'string' || !Number.isInteger(m.dim) || m.dim <= 0 || typeof m.files !== 'object' || m.files === null) {
    throw damaged('no valid model (name, variant, dim, files)');
  }
  if (typeof v.pooling !== 'string') throw damaged('no pooling');
  return v;
}

export function tryParseIdentity(value: string): StoreIdentity | null {
  try {
    return parseIdentity(value);
  } catch {
    return null;
  }
}

function describe(i: StoreIdentity): string {
  return `${i.model.name} (${i.model.variant}, ${i.model.dim}-d, ${i.pooling} pooling${i.pooler ? ` ${i.pooler.sha256.slice(0, 12)}` : ''})`;
}

export interface IdentityIntent {
  /** the identity of the model in use; omitted only by tools that read metadata (stats) */
  identity?: StoreIdentity;
  /** accept an index made with another model because the caller is about to reset it */
  replacing?: boolean;
  /** accept an index of the same model pooled another way because the caller is about to re-pool it */
  repooling?: boolean;
}

/**
 * At open: the stored identity (the row's text, if any) parsed and checked against the one in
 * use. Returns the identity the store runs with: none when the caller is replacing it.
 */
export function admitIdentity(home: string, value: string | undefined, opts: IdentityIntent): StoreIdentity | null {
  // A caller about to replace the identity (index --reindex) does not need a damaged one.
  const stored: StoreIdentity | null = value === undefined ? null : opts.replacing ? tryParseIdentity(value) : parseIdentity(value);
  const samePoolable = !!stored && !!opts.identity && modelKey(stored) === modelKey(opts.identity);
  if (stored && opts.identity && !opts.replacing && identityKey(stored) !== identityKey(opts.identity) && !(opts.repooling && samePoolable)) {
    if (samePoolable) {
      throw new StoreError(
        `the index in ${home} was pooled as ${describe(stored)}, but the configuration asks for ${describe(opts.identity)}; ` +
          `re-pool it from the stored frame vectors (no decoding) with \`vidsearch index --repool\` and the same pooling settings, or set --pooling/VIDSEARCH_POOLING back`,
        { cause: { stored, current: opts.identity } },
      );
    }
    throw new StoreError(
      `the index in ${home} was built with ${describe(stored)}, but the current model is ${describe(opts.identity)}; ` +
        `vectors of different models cannot be compared: set VIDSEARCH_MODEL/--variant back, use another data directory (VIDSEARCH_HOME), ` +
        `or re-index everything with \`vidsearch index --reindex <folder>\``,
      { cause: { stored, current: opts.identity } },
    );
  }
  return opts.replacing ? null : stored;
}

/**
 * A running reader follows a writer's new identity: another pooling is fine (a reader pools
 * nothing), another model than the one it encodes queries with is refused, as at open.
 */
export function followIdentity(home: string, value: string, expected: StoreIdentity | undefined): StoreIdentity {
  const stored = parseIdentity(value);
  if (expected && modelKey(stored) !== modelKey(expected)) {
    throw new StoreError(
      `the index in ${home} was built with ${describe(stored)}, but this process uses ${describe(expected)}: restart it with the same VIDSEARCH_MODEL/--variant/pooling`,
      { cause: { stored, current: expected } },
    );
  }
  return stored;
}
