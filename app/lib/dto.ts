// The JSON bodies of the API, one type per payload, so that clients can type what they fetch.
// Search answers with the engine's own SearchResponse, the same document as `vidsearch search --json`.
import type { FileState, ModelIdentity, SegmentRecord, VideoRecord } from '@/indexer';

export type { SearchResponse, SearchResult, Moment } from '@/indexer';
// GET /api/model answers with the engine's ModelState (ready, downloading with its progress, offline, ...).
export type { ModelState as ModelJson } from '@/indexer';
// POST /api/actions answers with the engine's TagResult, the same document as `vidsearch tag --json`.
export type { TagResult } from '@/indexer';

/** A video row; dates as ISO 8601 strings. */
export interface VideoJson extends Omit<VideoRecord, 'indexedAt' | 'createdAt'> {
  indexedAt: string | null;
  createdAt: string;
  /**
   * The file on disk now, against the row: ok, missing, changed (since indexing: re-run
   * `vidsearch index`), outside (its real path is in no library folder), unreadable, or unverified
   * (no library folders recorded yet). The stream and thumbnails serve only an indexed video whose
   * file is ok.
   */
  fileState: FileState;
}

export interface VideoPageJson {
  /** videos matching the status filter, all pages together */
  total: number;
  offset: number;
  limit: number;
  videos: VideoJson[];
}

export interface VideoDetailJson extends VideoJson {
  segments: Array<Pick<SegmentRecord, 'idx' | 'start' | 'end'>>;
}

export type HealthJson =
  | {
      ok: true;
      /** indexed videos: the ones a search can find */
      videos: number;
      model: Pick<ModelIdentity, 'name' | 'variant' | 'dim'>;
      index: { vectors: number; inStep: boolean; bytes: number };
      /** the watch daemon of this data directory, when one runs */
      daemon: { state: string; queue: number; current: string[]; recentFailures: Array<{ path: string; error: string; at: string }> } | null;
    }
  | { ok: false; error: string };

export function videoJson(v: VideoRecord, fileState: FileState): VideoJson {
  return { ...v, indexedAt: v.indexedAt?.toISOString() ?? null, createdAt: v.createdAt.toISOString(), fileState };
}

export interface LabelSetsJson {
  /** the label set the library is tagged with (what search filters and pages use); null when tagging is off */
  active: string | null;
  sets: Array<{ name: string; labels: number; templates: number; defaultTemplates: string }>;
  templateSets: string[];
}

export interface LabelSetJson {
  key: string;
  title: string;
  templateSet: string;
  templates: string[];
  labels: string[];
}
