-- AlterTable
ALTER TABLE "User" ADD COLUMN     "isOperator" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "username" TEXT;

-- AlterTable
ALTER TABLE "Member" ADD COLUMN     "consented" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "defaultLocationId" UUID,
ADD COLUMN     "profilePictureUrl" TEXT;

-- CreateTable
CREATE TABLE "Location" (
    "id" UUID NOT NULL,
    "organizationId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "timezone" TEXT,
    "address" TEXT,
    "version" INTEGER NOT NULL DEFAULT 1,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Location_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "MemberLocationRole" (
    "id" UUID NOT NULL,
    "organizationId" UUID NOT NULL,
    "memberId" UUID NOT NULL,
    "locationId" UUID NOT NULL,
    "roleId" UUID NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "MemberLocationRole_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "UserEmail" (
    "id" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "isPrimary" BOOLEAN NOT NULL DEFAULT false,
    "isVerified" BOOLEAN NOT NULL DEFAULT false,
    "verifiedAt" TIMESTAMP(3),
    "verifiedEmail" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UserEmail_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "UserPhone" (
    "id" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "phoneNumber" TEXT NOT NULL,
    "isPrimary" BOOLEAN NOT NULL DEFAULT false,
    "isVerified" BOOLEAN NOT NULL DEFAULT false,
    "verifiedAt" TIMESTAMP(3),
    "verifiedPhone" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UserPhone_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Location_organizationId_createdAt_id_idx" ON "Location"("organizationId", "createdAt", "id");

-- CreateIndex
CREATE UNIQUE INDEX "Location_organizationId_name_key" ON "Location"("organizationId", "name");

-- CreateIndex
CREATE INDEX "MemberLocationRole_locationId_memberId_idx" ON "MemberLocationRole"("locationId", "memberId");

-- CreateIndex
CREATE INDEX "MemberLocationRole_organizationId_idx" ON "MemberLocationRole"("organizationId");

-- CreateIndex
CREATE INDEX "MemberLocationRole_roleId_idx" ON "MemberLocationRole"("roleId");

-- CreateIndex
CREATE UNIQUE INDEX "MemberLocationRole_memberId_locationId_roleId_key" ON "MemberLocationRole"("memberId", "locationId", "roleId");

-- CreateIndex
CREATE UNIQUE INDEX "UserEmail_verifiedEmail_key" ON "UserEmail"("verifiedEmail");

-- CreateIndex
CREATE INDEX "UserEmail_email_idx" ON "UserEmail"("email");

-- CreateIndex
CREATE UNIQUE INDEX "UserEmail_userId_email_key" ON "UserEmail"("userId", "email");

-- CreateIndex
CREATE UNIQUE INDEX "UserPhone_verifiedPhone_key" ON "UserPhone"("verifiedPhone");

-- CreateIndex
CREATE UNIQUE INDEX "UserPhone_userId_phoneNumber_key" ON "UserPhone"("userId", "phoneNumber");

-- CreateIndex
CREATE UNIQUE INDEX "User_username_key" ON "User"("username");

-- CreateIndex
CREATE INDEX "Member_defaultLocationId_idx" ON "Member"("defaultLocationId");

-- AddForeignKey
ALTER TABLE "Member" ADD CONSTRAINT "Member_defaultLocationId_fkey" FOREIGN KEY ("defaultLocationId") REFERENCES "Location"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Location" ADD CONSTRAINT "Location_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MemberLocationRole" ADD CONSTRAINT "MemberLocationRole_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MemberLocationRole" ADD CONSTRAINT "MemberLocationRole_locationId_fkey" FOREIGN KEY ("locationId") REFERENCES "Location"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MemberLocationRole" ADD CONSTRAINT "MemberLocationRole_roleId_fkey" FOREIGN KEY ("roleId") REFERENCES "Role"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "UserEmail" ADD CONSTRAINT "UserEmail_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "UserPhone" ADD CONSTRAINT "UserPhone_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Every existing user's email becomes their primary UserEmail. It counts as verified unless the
-- user was only ever added by email (INVITED): nobody has shown they hold that address yet.
INSERT INTO "UserEmail" ("id", "userId", "email", "isPrimary", "isVerified", "verifiedAt", "verifiedEmail", "createdAt")
SELECT gen_random_uuid(), u."id", u."email", true, u."status" <> 'INVITED',
       CASE WHEN u."status" <> 'INVITED' THEN u."createdAt" END,
       CASE WHEN u."status" <> 'INVITED' THEN u."email" END,
       u."createdAt"
FROM "User" u;

-- The permission catalogue gains locations:*; the system roles get them as src/auth/permissions.ts says.
UPDATE "Role" SET "permissions" = "permissions" || ARRAY['locations:read','locations:create','locations:update','locations:delete'], "updatedAt" = CURRENT_TIMESTAMP
WHERE "id" IN ('00000000-0000-7000-8000-000000000001', '00000000-0000-7000-8000-000000000002');
UPDATE "Role" SET "permissions" = "permissions" || ARRAY['locations:read'], "updatedAt" = CURRENT_TIMESTAMP
WHERE "id" = '00000000-0000-7000-8000-000000000003';
