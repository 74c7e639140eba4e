-- Libraries, the job queue, workers, and the segment change log (issue 14).
-- CreateTable
CREATE TABLE "Library" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "path" TEXT NOT NULL,
    "watch" BOOLEAN NOT NULL DEFAULT true,
    "mode" TEXT NOT NULL DEFAULT 'inotify',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastScanAt" DATETIME
);

-- CreateTable
CREATE TABLE "Job" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "kind" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "libraryId" INTEGER,
    "batch" TEXT,
    "state" TEXT NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "maxAttempts" INTEGER NOT NULL DEFAULT 3,
    "runAfter" REAL NOT NULL DEFAULT 0,
    "owner" TEXT,
    "leaseUntil" REAL,
    "heartbeatAt" REAL,
    "progressDone" INTEGER NOT NULL DEFAULT 0,
    "progressTotal" INTEGER NOT NULL DEFAULT 0,
    "payload" TEXT,
    "result" TEXT,
    "error" TEXT,
    "createdAt" REAL NOT NULL,
    "startedAt" REAL,
    "finishedAt" REAL
);

-- CreateTable
CREATE TABLE "Worker" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "host" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "concurrency" INTEGER NOT NULL DEFAULT 1,
    "startedAt" REAL NOT NULL,
    "heartbeatAt" REAL NOT NULL,
    "jobId" INTEGER
);

-- CreateTable
CREATE TABLE "SegmentChange" (
    "seq" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "segmentId" INTEGER NOT NULL,
    "op" INTEGER NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "Library_path_key" ON "Library"("path");

-- CreateIndex
CREATE INDEX "Job_state_runAfter_idx" ON "Job"("state", "runAfter");

-- CreateIndex
CREATE INDEX "Job_batch_idx" ON "Job"("batch");


-- One active job per (kind, key): enqueueing what is already queued or running is a no-op.
CREATE UNIQUE INDEX "Job_active_key" ON "Job"("kind", "key") WHERE "state" IN ('queued', 'running');

-- The change log: every segment insert and delete, whoever writes it (ON DELETE CASCADE from a
-- removed video fires the delete trigger too).
CREATE TRIGGER "Segment_added" AFTER INSERT ON "Segment" BEGIN
  INSERT INTO "SegmentChange" ("segmentId", "op") VALUES (NEW."id", 1);
END;
CREATE TRIGGER "Segment_removed" AFTER DELETE ON "Segment" BEGIN
  INSERT INTO "SegmentChange" ("segmentId", "op") VALUES (OLD."id", -1);
END;
-- A vector rewritten in place (a re-pool): readers replace it.
CREATE TRIGGER "Segment_rewritten" AFTER UPDATE OF "vector" ON "Segment" BEGIN
  INSERT INTO "SegmentChange" ("segmentId", "op") VALUES (NEW."id", 0);
END;
