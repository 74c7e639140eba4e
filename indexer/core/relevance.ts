// Is a result a close match, or only the closest thing in the library? Pure rules, no I/O.
//
// A cosine alone cannot say: real CLIP scores every text–image pair about 0.15–0.35, so a nonsense
// query still scores 0.2 against everything, and the test model scores nonsense exactly 0
// everywhere. What a cosine means depends on the query, so each query is judged against its own
// background: its cosines with a fixed sample of the library's segment vectors (the same sample
// for every query until the library changes; searcher.ts: BACKGROUND_SAMPLE).
//
// z = (cosine − median) / scale, scale = 1.4826 · MAD (the median absolute deviation, which is the
// standard deviation for a Gaussian background). Median and MAD, not mean and standard deviation:
// the few segments that do match, and the ones the query is the opposite of (green under "red"),
// would inflate a standard deviation and hide a real match; the question is only whether a result
// stands above what the library typically scores. When half the sample scores exactly alike (MAD 0:
// a tiny library, or many identical frames) the standard deviation is the scale instead; when that
// is 0 too the background is flat and nothing stands out unless it scores above it.
//
// A result is a close match when z clears the line that the best of the library's N segments would
// reach by chance only with probability ALPHA if the background were Gaussian: N·Q(line) = ALPHA
// (Bonferroni over the N draws the top result is the best of; Q the normal tail). The line grows
// slowly with the library (2.3 at 5 segments, 3.9 at 1,000, 4.9 at 100,000), as the expected
// maximum of N draws (√(2 ln N)) does, so a bigger library needs a clearer winner.

/** Chance that the best of the library's segments clears the line by chance alone (Gaussian background). */
export const ALPHA = 0.05;
/** Below this a spread is float noise on equal cosines. */
const FLAT = 1e-6;
/** z given to a result above a flat background, and the most any z counts for. */
export const Z_CAP = 10;
/** Steepness of the 0–100 match score around the line: one z unit above it is 82, two 95. */
const MATCH_SLOPE = 1.5;
/** MAD × this estimates a Gaussian's standard deviation. */
const MAD_TO_SD = 1.4826;

/** Where the query's background lies and how wide it is; null scale: too few draws to judge. */
export interface Background {
  center: number;
  scale: number | null;
}

function median(sorted: Float64Array): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

/** The background of a query from its cosines with the sampled segments. */
export function backgroundOf(scores: ArrayLike<number>): Background {
  const n = scores.length;
  if (n < 3) return { center: 0, scale: null };
  const sorted = Float64Array.from(scores).sort();
  const center = median(sorted);
  const deviations = sorted.map((s) => Math.abs(s - center)).sort();
  let scale = MAD_TO_SD * median(deviations);
  if (scale < FLAT) {
    let mean = 0;
    for (const s of sorted) mean += s / n;
    let variance = 0;
    for (const s of sorted) variance += (s - mean) ** 2 / n;
    scale = Math.sqrt(variance);
  }
  return { center, scale: scale < FLAT ? 0 : scale };
}

/** How many background deviations `score` stands above the background's centre; null: not judged. */
export function standardScore(score: number, bg: Background): number | null {
  if (bg.scale === null) return null;
  if (bg.scale === 0) return score - bg.center > FLAT * 10 ? Z_CAP : 0;
  return Math.min(Z_CAP, (score - bg.center) / bg.scale);
}

/** Complementary error function (Numerical Recipes' erfcc: relative error under 1.2e-7, tails included). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Upper tail of the standard normal: P(Z > z). */
export const normalTail = (z: number) => 0.5 * erfc(z / Math.SQRT2);

/** The z a close match must reach in a library of `segments` segments: N·Q(line) = alpha. */
export function closeMatchLine(segments: number, alpha = ALPHA): number {
  const target = Math.min(0.5, alpha / Math.max(1, segments));
  let lo = 0;
  let hi = Z_CAP;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (normalTail(mid) > target) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The person-facing score, 0–100: 50 on the close-match line, rising to 100 above it and falling to
 * 0 below (a logistic in z). Null when the result could not be judged.
 */
export function matchScore(z: number | null, line: number): number | null {
  if (z === null) return null;
  return Math.round(100 / (1 + Math.exp(-MATCH_SLOPE * (z - line))));
}

/** A result that could not be judged (no background) is not called a weak match. */
export const isCloseMatch = (z: number | null, line: number) => z === null || z >= line;
