-- requires extension: vector
-- pgvector: the segments' vectors as an ANN column beside the bytea truth. No dimension on the
-- column (models differ); the HNSW index is an expression index on "embedding"::vector(N), made
-- when the library's model (and so N) is recorded. Rows from before this migration are filled by
-- the store when it opens.
CREATE EXTENSION IF NOT EXISTS vector;
ALTER TABLE "Segment" ADD COLUMN "embedding" vector;
