// Cursors are opaque to clients, not to us: before one reaches SQL it must decode to what its list
// hands out, so a forged, garbled or foreign cursor is BAD_USER_INPUT naming after/before, never
// a database error. (Organization.members checks its own in member-pages.ts.)
import { decodeBase64, decodeCursorChunk } from "@pothos/core";
import { invalid } from "../core/errors.js";
import { UUID_PATTERN } from "../core/text.js";

interface CursorArgs {
  after?: string | null;
  before?: string | null;
}

// `object`: relatedConnection types its `query` with the field's own arguments only, though it
// receives the connection's too.
function requireCursors(args: object, isValid: (decoded: string) => boolean): void {
  for (const name of ["after", "before"] as const) {
    const cursor = (args as CursorArgs)[name];
    if (cursor == null) continue;
    let valid = false;
    try {
      valid = isValid(decodeBase64(cursor));
    } catch {
      valid = false;
    }
    if (!valid) throw invalid(name, `${name} is not a cursor of this list`);
  }
}

/** A plugin-prisma connection with `cursor: "id"`: "GPC:S:<uuid>" (every id is a UUID). */
export function requireIdCursors(args: object): void {
  requireCursors(args, (decoded) => {
    if (!decoded.startsWith("GPC:")) return false;
    const id: unknown = decodeCursorChunk(decoded.slice(4));
    return typeof id === "string" && UUID_PATTERN.test(id);
  });
}

/** resolveArrayConnection: "OffsetConnection:<n>", a non-negative whole number. */
export function requireOffsetCursors(args: object): void {
  requireCursors(args, (decoded) => /^OffsetConnection:\d{1,9}$/.test(decoded));
}
