// Domain types shared by the engine modules. I/O modules return these; the rules take them.

export type Vector = Float32Array;

export interface VideoProbe {
  /** seconds; 0 when the container does not say */
  duration: number;
  /** display size, after rotation */
  width: number;
  height: number;
  /** degrees clockwise the player must rotate (0, 90, 180, 270) */
  rotation: number;
  /** average frame rate of the video stream, frames per second (0 when unknown) */
  fps: number;
  codec: string;
  hasAudio: boolean;
  /** number of video streams; 0 means not a video */
  videoStreams: number;
  formatName: string;
  /**
   * How to read the main video stream, for the media boundary's own later runs (frames,
   * thumbnails); absent in a probe that did not come from it, which then probes again.
   */
  source?: VideoSource;
}

export interface VideoSource {
  /** ffmpeg's index of the main video stream (`-map 0:<stream>`) */
  stream: number;
  /** coded size and sample aspect ratio, before rotation */
  width: number;
  height: number;
  sar: [number, number];
  /** set when the stream is HDR (PQ or HLG): what to tone-map from, in ffmpeg's names */
  hdr?: { transfer: string; primaries: string; matrix: string; range: string };
  /** 'yes': the stream says so; 'maybe': it does not say, and its codec can code interlaced frames */
  interlaced: 'yes' | 'no' | 'maybe';
  pixFmt: string;
}

export interface RawFrame {
  /** 0-based index among the sampled frames */
  index: number;
  /** presentation time in seconds from the start of the video */
  time: number;
  /** width*height*3 bytes, RGB24, row-major */
  rgb: Uint8Array;
  width: number;
  height: number;
}

export interface SegmentVectors {
  idx: number;
  start: number;
  end: number;
  frameCount: number;
  vector: Vector;
}

// Each vocabulary is stated here once; types, zod enums, validation messages and help texts are
// derived from these lists (indexer/cli/options.ts, core/search-request.ts, app/api/...).

/** A video's state in the library: waiting to be indexed, indexed, or failed (with its error). */
export const VIDEO_STATUSES = ['pending', 'indexed', 'failed'] as const;
export type VideoStatus = (typeof VIDEO_STATUSES)[number];

/** The ONNX weights of a model: full precision, int8-quantized, half precision. */
export const MODEL_VARIANTS = ['fp32', 'quantized', 'fp16'] as const;
export type ModelVariant = (typeof MODEL_VARIANTS)[number];

/** How frame vectors become segment vectors: their mean, or the trained transformer pooler. */
export const POOLINGS = ['mean', 'transformer'] as const;
export type PoolingName = (typeof POOLINGS)[number];

/** `a, b or c`: a vocabulary in a sentence (validation messages, help). */
export function orList(words: readonly string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** The model a library's vectors were made with: vectors of different identities are not comparable. */
export interface ModelIdentity {
  name: string;
  variant: ModelVariant;
  dim: number;
  /** file (relative to the model folder) → sha256 */
  files: Record<string, string>;
}
