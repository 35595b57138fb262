// Small helpers shared by the type files.
import { NO_ROW, UUID_PATTERN } from "../core/text.js";
import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from "graphql";

/** The id itself, or one that matches no row: a malformed id reads as "not found" instead of a database error. */
export function asUuid(id: string): string {
  return UUID_PATTERN.test(id) ? id : NO_ROW;
}

export const EXPECTED_VERSION_DESCRIPTION =
  "The version you last read; the change fails with STALE_VERSION (extensions.currentVersion) if someone changed it since. Omit to overwrite regardless.";

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
