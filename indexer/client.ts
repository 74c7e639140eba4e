// The engine's entry for code that may run in the browser (app/ui, app/lib/format.ts): types, and
// constants from core/ that import nothing with I/O. Types are erased; the one value, MAX_K, comes
// from core/search-request.ts. Everything else goes through index.ts.
export { MAX_K } from './core/search-request';
export type { TagRecord, VideoRecord } from './io/db/store';
export type { FileState, OpenEngine, OpenLibrary } from './services/engine';
export type { Moment, SearchResponse, SearchResult } from './services/search';
