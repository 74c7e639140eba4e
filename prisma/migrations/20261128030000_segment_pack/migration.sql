-- AlterTable
ALTER TABLE "Segment" ADD COLUMN "pack" BLOB;
