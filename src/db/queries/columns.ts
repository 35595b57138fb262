// The columns lean SQL selects, read from Prisma's own datamodel (which the generated Pothos types
// carry): a column added to prisma/schema.prisma is selected, and reaches the row objects, without
// anyone having to remember this list. Enum columns are read as text.
import { getDatamodel } from "../../generated/pothos-prisma-types.js";

export interface ModelColumns {
  /** Scalar columns, read as they are. */
  plain: readonly string[];
  /** Enum columns, selected as `"<column>"::text`. */
  enums: readonly string[];
}

type ModelName = "Member" | "User" | "Role" | "AuditEvent";

export function columnsOf(model: ModelName): ModelColumns {
  const fields = getDatamodel().datamodel.models[model]!.fields;
  return {
    plain: fields.filter((field) => field.kind === "scalar").map((field) => field.name),
    enums: fields.filter((field) => field.kind === "enum").map((field) => field.name),
  };
}

/** The select list of one model's columns under `alias`, each named `<prefix><column>`. */
export function selectList(alias: string, columns: ModelColumns, prefix = ""): string[] {
  return [
    ...columns.plain.map((column) => `${alias}."${column}" AS "${prefix}${column}"`),
    ...columns.enums.map((column) => `${alias}."${column}"::text AS "${prefix}${column}"`),
  ];
}

/** One model's object from a row of such a select list: every column, no more. */
export function rowOf<T>(row: Readonly<Record<string, unknown>>, columns: ModelColumns, prefix = ""): T {
  const result: Record<string, unknown> = {};
  for (const column of [...columns.plain, ...columns.enums]) result[column] = row[prefix + column];
  return result as T;
}
