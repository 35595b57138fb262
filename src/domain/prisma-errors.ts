// Recognises the database errors the domain turns into stable codes.
import { Prisma } from "../generated/prisma/client.js";

/** True when the error is a unique-constraint violation (optionally on a given column). */
export function isUniqueViolation(error: unknown, column?: string): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError) || error.code !== "P2002") return false;
  if (!column) return true;
  const meta = JSON.stringify(error.meta ?? {});
  return meta.includes(column);
}
