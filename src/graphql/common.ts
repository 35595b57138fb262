// Small helpers shared by the type files.
import { decodeGlobalID } from "@pothos/plugin-relay";
import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from "graphql";
import { invalid } from "../core/errors.js";

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Matches no row: lets a malformed id read as "not found" instead of a database error. */
export const NO_ROW = "00000000-0000-0000-0000-000000000000";

export function asUuid(id: string): string {
  return UUID_PATTERN.test(id) ? id : NO_ROW;
}

export const EXPECTED_VERSION_DESCRIPTION =
  "The version you last read; the change fails with STALE_VERSION (extensions.currentVersion) if someone changed it since. Omit to overwrite regardless.";

/** Decodes a global ID that must name `typename`; throws BAD_USER_INPUT naming the argument otherwise. */
export function parseGlobalId(globalId: string, typename: string, field: string): string {
  let decoded: { typename: string; id: string };
  try {
    decoded = decodeGlobalID(globalId);
  } catch {
    throw invalid(field, `${field} is not a valid ${typename} ID`);
  }
  if (decoded.typename !== typename || !UUID_PATTERN.test(decoded.id)) {
    throw invalid(field, `${field} is not a valid ${typename} ID`);
  }
  return decoded.id;
}

/** Whether the field being resolved selects `name` directly (through fragments too). */
export function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  const visit = (selectionSet: SelectionSetNode | undefined): boolean =>
    !!selectionSet?.selections.some((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === name;
      if (selection.kind === Kind.INLINE_FRAGMENT) return visit(selection.selectionSet);
      return visit(info.fragments[selection.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((node) => visit(node.selectionSet));
}
