// The JSON bodies of the API, one type per payload, so that clients can type what they fetch.
// Search answers with the engine's own SearchResponse, the same document as `vidsearch search --json`.
import type { FileState, JobRecord, LibraryView, ModelIdentity, SegmentRecord, VideoRecord, WorkerRecord } from '@/indexer';

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
      /** the followed folders */
      libraries: LibraryJson[];
      /** the job queue by state */
      queue: { queued: number; running: number; done: number; failed: number };
      /** each worker seen in the last hour, with the file of its current job */
      workers: Array<WorkerJson & { job: string | null }>;
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

/** A library (a followed folder) with what it holds; dates as ISO 8601 strings. */
export interface LibraryJson {
  id: number;
  path: string;
  watch: boolean;
  mode: 'inotify' | 'poll';
  createdAt: string;
  lastScanAt: string | null;
  videos: { pending: number; indexed: number; failed: number; total: number };
  queued: number;
  running: number;
  failedJobs: number;
}

export interface LibrariesJson {
  libraries: LibraryJson[];
}

/** A job of the queue; times as ms since the epoch. */
export interface JobJson {
  id: number;
  kind: string;
  key: string;
  libraryId: number | null;
  state: 'queued' | 'running' | 'done' | 'failed';
  attempts: number;
  maxAttempts: number;
  owner: string | null;
  progress: { done: number; total: number };
  error: string | null;
  result: unknown;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  heartbeatAt: number | null;
}

export interface WorkerJson {
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  jobId: number | null;
  heartbeatAt: number;
  live: boolean;
}

export interface JobsJson {
  counts: { queued: number; running: number; done: number; failed: number };
  jobs: JobJson[];
  workers: WorkerJson[];
}

export function libraryJson(l: LibraryView): LibraryJson {
  return {
    id: l.id,
    path: l.path,
    watch: l.watch,
    mode: l.mode,
    createdAt: l.createdAt.toISOString(),
    lastScanAt: l.lastScanAt?.toISOString() ?? null,
    videos: l.videos,
    queued: l.queued,
    running: l.running,
    failedJobs: l.failedJobs,
  };
}

export function jobJson(j: JobRecord): JobJson {
  return {
    id: j.id,
    kind: j.kind,
    key: j.key,
    libraryId: j.libraryId,
    state: j.state,
    attempts: j.attempts,
    maxAttempts: j.maxAttempts,
    owner: j.owner,
    progress: { done: j.progressDone, total: j.progressTotal },
    error: j.error,
    result: j.result,
    createdAt: j.createdAt,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    heartbeatAt: j.heartbeatAt,
  };
}

export function workerJson(w: WorkerRecord): WorkerJson {
  return { id: w.id, host: w.host, pid: w.pid, concurrency: w.concurrency, jobId: w.jobId, heartbeatAt: w.heartbeatAt, live: w.live };
}
