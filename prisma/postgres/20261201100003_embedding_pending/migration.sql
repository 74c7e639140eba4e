-- requires extension: vector
-- The segments whose ANN column is still to fill (rows from before pgvector, or copied in by
-- `vidsearch store copy`): every store looks for them when it opens, and this partial index, empty
-- once they are filled, makes that look one index probe instead of a scan of the whole table.
CREATE INDEX "Segment_embedding_pending_idx" ON "Segment" ("id") WHERE "embedding" IS NULL;
