-- AlterEnum
ALTER TYPE "MemberStatus" ADD VALUE 'PENDING';

-- DropIndex
DROP INDEX "Member_organizationId_userId_key";

-- AlterTable
ALTER TABLE "User" ADD COLUMN     "isPlaceholder" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "Member" ADD COLUMN     "pendingEmail" TEXT NOT NULL DEFAULT '';

-- CreateIndex
CREATE UNIQUE INDEX "Member_organizationId_userId_pendingEmail_key" ON "Member"("organizationId", "userId", "pendingEmail");

