// The old home of the store, kept as an import path: the store callers use is services/store.ts,
// the domain types and repository interfaces are core/storage.ts, the SQLite repositories are
// io/db/sqlite/, the identity policy services/identity.ts and the HNSW sync services/index-sync.ts.
export { Store, type OpenStoreOptions } from '../../services/store';
export { identityKey, modelKey, parseIdentity } from '../../services/identity';
export { vectorFrom } from '../../core/vectors';
export type {
  FrameRecord,
  IndexedVideoInput,
  SegmentRecord,
  Stats,
  StoreIdentity,
  Summary,
  TagRecord,
  VideoQuery,
  VideoRecord,
  VideoSort,
  VideoTags,
} from '../../core/storage';
