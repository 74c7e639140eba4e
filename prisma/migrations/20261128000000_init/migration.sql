-- CreateTable
CREATE TABLE "Video" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "path" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "mtimeMs" REAL NOT NULL,
    "status" TEXT NOT NULL,
    "error" TEXT,
    "duration" REAL,
    "width" INTEGER,
    "height" INTEGER,
    "fps" REAL,
    "rotation" INTEGER,
    "codec" TEXT,
    "frameCount" INTEGER NOT NULL DEFAULT 0,
    "segmentCount" INTEGER NOT NULL DEFAULT 0,
    "vector" BLOB,
    "indexedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Segment" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "videoId" INTEGER NOT NULL,
    "idx" INTEGER NOT NULL,
    "start" REAL NOT NULL,
    "end" REAL NOT NULL,
    "frameCount" INTEGER NOT NULL,
    "vector" BLOB NOT NULL,
    CONSTRAINT "Segment_videoId_fkey" FOREIGN KEY ("videoId") REFERENCES "Video" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Frame" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "videoId" INTEGER NOT NULL,
    "idx" INTEGER NOT NULL,
    "segmentIdx" INTEGER NOT NULL,
    "time" REAL NOT NULL,
    "vector" BLOB NOT NULL,
    CONSTRAINT "Frame_videoId_fkey" FOREIGN KEY ("videoId") REFERENCES "Video" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Setting" (
    "key" TEXT NOT NULL PRIMARY KEY,
    "value" TEXT NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "Video_path_key" ON "Video"("path");

-- CreateIndex
CREATE INDEX "Video_status_idx" ON "Video"("status");

-- CreateIndex
CREATE UNIQUE INDEX "Segment_videoId_idx_key" ON "Segment"("videoId", "idx");

-- CreateIndex
CREATE INDEX "Frame_videoId_segmentIdx_idx" ON "Frame"("videoId", "segmentIdx");

-- CreateIndex
CREATE UNIQUE INDEX "Frame_videoId_idx_key" ON "Frame"("videoId", "idx");
