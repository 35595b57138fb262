// The columns lean SQL selects, read from Prisma's own datamodel (which the generated Pothos types
// carry): a column added to prisma/schema.prisma is selected, and reaches the row objects, without
// anyone having to remember this list. Enum columns are read as text.
import { getDatamodel } from "../../generated/pothos-prisma-types.js";

export interface ModelColumns {
  /** Scalar columns, read as they are. */
  plain: readonly string[];
  /** Enum columns, selected as `"<column>"::text`. */
  enums: readonly string[];
  /** Both, in select-list order (rowOf walks it once per row). */
  all: readonly string[];
}

type ModelName = "Member" | "User" | "Role" | "AuditEvent" | "MembershipEvent";

export function columnsOf(model: ModelName): ModelColumns {
  const fields = getDatamodel().datamodel.models[model]!.fields;
  const plain = fields.filter((field) => field.kind === "scalar").map((field) => field.name);
  const enums = fields.filter((field) => field.kind === "enum").map((field) => field.name);
  return { plain, enums, all: [...plain, ...enums] };
}

/** The select list of one model's columns under `alias`, each named `<prefix><column>`. */
export function selectList(alias: string, columns: ModelColumns, prefix = ""): string[] {
  return [
    ...columns.plain.map((column) => `${alias}."${column}" AS "${prefix}${column}"`),
    ...columns.enums.map((column) => `${alias}."${column}"::text AS "${prefix}${column}"`),
  ];
}

const PREFIXED = new WeakMap<ModelColumns, Map<string, readonly string[]>>();

/** The columns' names in the select list under `prefix`, made once (not per row). */
function prefixed(columns: ModelColumns, prefix: string): readonly string[] {
  if (prefix === "") return columns.all;
  let byPrefix = PREFIXED.get(columns);
  if (!byPrefix) PREFIXED.set(columns, (byPrefix = new Map()));
  let names = byPrefix.get(prefix);
  if (!names) byPrefix.set(prefix, (names = columns.all.map((column) => prefix + column)));
  return names;
}

/** One model's object from a row of such a select list: every column, no more. */
export function rowOf<T>(row: Readonly<Record<string, unknown>>, columns: ModelColumns, prefix = ""): T {
  const result: Record<string, unknown> = {};
  const names = prefixed(columns, prefix);
  for (let i = 0; i < names.length; i++) result[columns.all[i]!] = row[names[i]!];
  return result as T;
}
