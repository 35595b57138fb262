// Small helpers shared by the type files.
import { NO_ROW, UUID_PATTERN } from "../core/text.js";
import { decodeGlobalID } from "@pothos/plugin-relay";
import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from "graphql";
import { invalid } from "../core/errors.js";

/** The id itself, or one that matches no row: a malformed id reads as "not found" instead of a database error. */
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
