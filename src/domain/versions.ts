// Optimistic concurrency: Member, Role and Organization carry a version that every change
// increments. An update that names the version it was based on fails with STALE_VERSION when
// someone changed the object meanwhile, instead of silently overwriting their change.
// The check runs inside the transaction that holds the organization's lock, so two updates
// based on the same version can't both pass it.
import { AppError } from "../core/errors.js";

export function assertVersion(current: { version: number }, expectedVersion: number | null | undefined): void {
  if (expectedVersion === undefined || expectedVersion === null) return;
  if (current.version !== expectedVersion) {
    throw new AppError(
      "STALE_VERSION",
      `This was changed by someone else since you loaded it (your version ${expectedVersion}, now ${current.version}); reload and try again`,
      { field: "expectedVersion", expectedVersion, currentVersion: current.version },
    );
  }
}
