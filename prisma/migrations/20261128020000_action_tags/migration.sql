-- CreateTable
CREATE TABLE "Tag" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "videoId" INTEGER NOT NULL,
    "segmentIdx" INTEGER NOT NULL,
    "labelSet" TEXT NOT NULL,
    "rank" INTEGER NOT NULL,
    "label" TEXT NOT NULL,
    "score" REAL NOT NULL,
    CONSTRAINT "Tag_videoId_fkey" FOREIGN KEY ("videoId") REFERENCES "Video" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "Tag_videoId_labelSet_idx" ON "Tag"("videoId", "labelSet");

-- CreateIndex
CREATE INDEX "Tag_labelSet_label_idx" ON "Tag"("labelSet", "label");
