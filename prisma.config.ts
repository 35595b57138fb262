// Prisma CLI configuration. The service itself never reads this file: it picks its database
// adapter in src/db/client.ts. DATABASE_URL is only needed by CLI commands that talk to a
// database (migrate deploy, studio), not by `prisma generate`.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost/unused" },
});
