-- AlterTable
ALTER TABLE "Video" ADD COLUMN "fingerprint" TEXT;

-- CreateIndex
CREATE INDEX "Video_size_idx" ON "Video"("size");
