// The engine's one entry point for the app (app/) and the server scripts (scripts/): everything
// they use, re-exported from the layer that defines it. Anything not listed here is internal to
// indexer/ (tests and the benchmark may still reach in). Two lighter entries sit beside it:
// client.ts (types and pure constants, safe in a 'use client' component) and settings.ts (the
// configuration alone, for a page that must not load the engine: the login page).
// test/layout.test.ts holds app/ and scripts/ to these entries.
//
// The layers, bottom up:
//   core/      pure rules and types, no I/O
//   io/        one folder per boundary: ffmpeg, onnx, db, ann, files
//   services/  orchestration: the engine, indexing, search, tagging, the daemon, provisioning
//   cli/       the `vidsearch` command
//   testkit/   the generated test model and sample videos; never imported at run time

// core
export { ERROR_KINDS, ModelError, errorKind, errorMessage, isDatabaseDamage, type ErrorKind } from './core/errors';
export { ImageSearchFields, MAX_K, SearchRequest, intParam, parseSearchRequest, secondsParam } from './core/search-request';
export { MODEL_VARIANTS, POOLINGS, VIDEO_STATUSES, orList, type ModelVariant, type PoolingName, type VideoProbe, type VideoStatus } from './core/types';
export { dot, l2normalize } from './core/vectors';
export { LABEL_SETS, LOW_CONFIDENCE, MAX_CUSTOM_LABELS, MAX_LABEL_CHARS, TEMPLATE_SETS, confidentTag, lowConfidence, type LabelSet, type LabelSetName } from './core/labels';

// io
export { Store } from './services/store';
export type { SegmentRecord, TagRecord, VideoRecord, VideoSort } from './core/storage';
export { probe, thumbnail } from './io/ffmpeg/media';
export { markUsed, pruneLeastRecentlyUsed, type PruneReport } from './io/files/disk-cache';
export { logOnce } from './io/files/log-once';
export { PROJECT_ROOT } from './io/files/paths';
export type { ModelIdentity } from './io/onnx/model';

// services
export { labelSet } from './services/actions';
export { databaseKind, demoHome, forgetProcessConfig, isLoopbackHost, processConfig, processServerConfig, resolveConfig, resolveServerConfig, sqlitePath, type Config, type ServerConfig } from './services/config';
export { readDaemonStatus } from './services/daemon';
export { openEngine, openLibrary, type FileState, type OpenEngine, type OpenLibrary, type VideoFile } from './services/engine';
export { recordLibraryRoots } from './services/library';
export { LibraryError } from './core/errors';
export { addLibrary, listLibraries, openWork, removeLibrary, scanLibrary, setWatching, type LibraryView, type Work } from './services/libraries';
export { JOB_STATES, type JobState } from './core/jobs';
export type { JobRecord, WorkerRecord } from './core/storage';
export { activeLabelSet, indexTargets } from './services/pipeline';
export type { ScoredSegment, VideoSegmentScores } from './services/moments';
export { modelProvision, type ModelState } from './services/provision';
export { validateQuery, type Moment, type SearchResponse, type SearchResult } from './services/search';
export { chooseLabelSet, storedVideoTags, tagFile, tagVideo, type TagResult } from './services/tagging';
