// A generated library for measuring query-adaptive re-ranking with the test model: pairs of
// 10-second videos, one where the queried colour fills only 2 s (the rest is a filler colour far
// from the query) and one that is uniformly a *near* colour. Mean pooling ranks the uniform video
// first (its one colour is close to the query; the moment is diluted 1:4), re-ranking should find
// the moment. Queries are captions made of colour words, whose test-model text vector is the sum
// of the words' colour vectors (build.ts), so there are enough distinct directions for 25+ pairs.
import path from 'node:path';
import { makeColorVideo, type RGB } from './samples';
import { DEFAULT_RERANK_TEMPERATURE } from '../services/config';
import { queryAdaptiveScore } from '../core/rerank';
import { TEST_COLORS, TEST_DIM, colorVector } from './build';

export interface MomentCase {
  /** the caption, colour words only */
  query: string;
  /** the video with the 2-second moment */
  target: string;
  /** the uniformly near-coloured video */
  decoy: string;
  momentColor: RGB;
  fillerColor: RGB;
  decoyColor: RGB;
  /** where the moment starts, seconds */
  momentStart: number;
}

type V3 = [number, number, number];
const dot3 = (a: V3, b: V3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const unit = (a: V3): V3 => {
  const n = Math.hypot(...a);
  return [a[0] / n, a[1] / n, a[2] / n];
};
const vec = (d: V3): Float32Array => {
  const v = new Float32Array(TEST_DIM);
  v.set(d);
  return v;
};
const cross = (a: V3, b: V3): V3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

/** The colour whose test-model vector points along `dir`: on the surface of the RGB cube, so it is as saturated as it can be. */
function colorAlong(dir: V3): RGB {
  const m = Math.max(...dir.map(Math.abs));
  return dir.map((d) => Math.max(0, Math.min(255, Math.round(127.5 + (127.5 * d) / m)))) as RGB;
}

/** Unit direction of a colour's test-model vector (after rounding to 8 bits). */
export function colorDirection(rgb: RGB): V3 {
  const v = colorVector(rgb);
  return unit([v[0], v[1], v[2]]);
}

function captionDirections(): Array<{ query: string; dir: V3 }> {
  const words = Object.keys(TEST_COLORS);
  const out: Array<{ query: string; dir: V3 }> = [];
  const seen = new Set<string>();
  const add = (ws: string[]) => {
    const sum: V3 = [0, 0, 0];
    for (const w of ws) {
      const v = colorVector(TEST_COLORS[w]);
      for (let c = 0; c < 3; c++) sum[c] += v[c];
    }
    if (Math.hypot(...sum) < 0.3) return; // complementary words cancel out
    const key = unit(sum).map((x) => x.toFixed(3)).join(',');
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ query: ws.join(' '), dir: unit(sum) });
  };
  for (const a of words) add([a]);
  for (let i = 0; i < words.length; i++) for (let j = i + 1; j < words.length; j++) add([words[i], words[j]]);
  for (let i = 0; i < words.length; i++) for (let j = 0; j < words.length; j++) if (i !== j) add([words[i], words[i], words[j]]);
  for (let i = 0; i < words.length; i++) for (let j = i + 1; j < words.length; j++) for (let k = j + 1; k < words.length; k++) add([words[i], words[j], words[k]]);
  return out;
}

/**
 * Chooses `pairs` queries at least ~30° apart, a decoy colour ~20° from each (turned away from
 * the other queries) and a filler colour roughly orthogonal to it and far from every query.
 */
export function momentCases(pairs = 25): Array<Omit<MomentCase, 'target' | 'decoy'>> {
  // Farthest-point sampling: each next query is the caption farthest from those chosen so far.
  const candidates = captionDirections();
  const chosen: Array<{ query: string; dir: V3 }> = [candidates[0]];
  while (chosen.length < pairs) {
    let best: { c: { query: string; dir: V3 }; near: number } | undefined;
    for (const c of candidates) {
      const near = Math.max(...chosen.map((o) => dot3(o.dir, c.dir)));
      if (!best || near < best.near) best = { c, near };
    }
    if (!best || best.near > 0.9) throw new Error(`only ${chosen.length} well-separated colour captions, ${pairs} wanted`);
    chosen.push(best.c);
  }
  const dirs = chosen.map((c) => c.dir);
  const samples: V3[] = [];
  for (let i = 0; i < 2000; i++) {
    // a deterministic spiral over the sphere
    const z = 1 - (2 * (i + 0.5)) / 2000;
    const r = Math.sqrt(1 - z * z);
    const phi = i * Math.PI * (3 - Math.sqrt(5));
    samples.push([r * Math.cos(phi), r * Math.sin(phi), z]);
  }
  return chosen.map(({ query, dir }, i) => {
    const momentColor = colorAlong(dir);
    const m = colorDirection(momentColor);
    // Decoy: 20° away from the query, in the direction that stays farthest from other queries.
    let best: { rgb: RGB; worst: number } | undefined;
    const a = unit(cross(m, Math.abs(m[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0]));
    const b = cross(m, a);
    for (let k = 0; k < 36; k++) {
      const phi = (k / 36) * 2 * Math.PI;
      const theta = (20 * Math.PI) / 180;
      const d: V3 = unit([0, 1, 2].map((c) => Math.cos(theta) * m[c] + Math.sin(theta) * (Math.cos(phi) * a[c] + Math.sin(phi) * b[c])) as V3);
      const rgb = colorAlong(d);
      const worst = Math.max(...dirs.filter((_, j) => j !== i).map((o) => dot3(o, colorDirection(rgb))));
      if (!best || worst < best.worst) best = { rgb, worst };
    }
    // Filler: near-orthogonal to the query, chosen so that no other query is drawn to this video
    // by re-ranking (its frames, weighted for that query, stay as far from it as possible).
    let filler: { rgb: RGB; worst: number } | undefined;
    const moment = vec(m);
    for (const s of samples) {
      if (Math.abs(dot3(s, m)) > 0.15) continue;
      const rgb = colorAlong(s);
      const f = vec(colorDirection(rgb));
      const frames = [moment, moment, f, f, f, f, f, f, f, f];
      const worst = Math.max(...dirs.filter((_, j) => j !== i).map((o) => queryAdaptiveScore(vec(o), frames, DEFAULT_RERANK_TEMPERATURE)));
      if (!filler || worst < filler.worst) filler = { rgb, worst };
    }
    return { query, momentColor, decoyColor: best!.rgb, fillerColor: filler!.rgb, momentStart: [0, 2, 4, 6, 8][i % 5] };
  });
}

/** Writes the 2 × `pairs` videos (10 s each, small and at 2 fps: the engine samples 1 fps). */
export async function makeMomentLibrary(dir: string, pairs = 25): Promise<MomentCase[]> {
  const cases = momentCases(pairs);
  const opts = { width: 64, height: 48, fps: 2 };
  const out: MomentCase[] = [];
  for (const [i, c] of cases.entries()) {
    const target = path.join(dir, `moment-${String(i).padStart(2, '0')}.mp4`);
    const decoy = path.join(dir, `near-${String(i).padStart(2, '0')}.mp4`);
    const parts = [
      ...(c.momentStart > 0 ? [{ color: c.fillerColor, seconds: c.momentStart }] : []),
      { color: c.momentColor, seconds: 2 },
      ...(c.momentStart + 2 < 10 ? [{ color: c.fillerColor, seconds: 10 - c.momentStart - 2 }] : []),
    ];
    await makeColorVideo(target, parts, opts);
    await makeColorVideo(decoy, [{ color: c.decoyColor, seconds: 10 }], opts);
    out.push({ ...c, target, decoy });
  }
  return out;
}
