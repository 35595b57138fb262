// Global-ID arguments and input fields (relay's `t.arg.globalID({ for })`, `t.globalID({ for })`,
// `t.globalIDList({ for })`) reach auth scopes and resolvers decoded, as `{ typename, id }`. An id
// that is malformed, names another type or holds no UUID arrives as a RefusedGlobalId: reading its
// `id` throws BAD_USER_INPUT naming the input field as forms name it ("memberId",
// "settings.defaultLocationId", "locations.1.locationId"). Refused when first read, not when the
// arguments are parsed, so sign-in and the auth scope answer before a secondary id is looked at.
//
// Relay refuses such an id itself, while parsing the arguments, with neither a code nor the field.
// So relay is handed a stand-in of the accepted type for it (before relay's mapper), and the
// decoded ids are checked after (behind relay's mapper): the plugin is listed before RelayPlugin,
// which makes its field hook run after relay's.
import SchemaBuilder, { BasePlugin, mapInputFields, PothosSchemaError, type InputFieldsMapping, type InputTypeFieldsMapping, type PothosOutputFieldConfig, type SchemaTypes } from "@pothos/core";
import { decodeGlobalID, encodeGlobalID } from "@pothos/plugin-relay";
import { invalid } from "../core/errors.js";
import { UUID_PATTERN } from "../core/text.js";

/** The types a global-ID input takes (relay's `relayGlobalIDFor`, from its `for`). */
type Accepted = readonly { typename: string }[];
type GlobalIdInputs<Types extends SchemaTypes> = InputFieldsMapping<Types, Accepted>;

/** A global-ID input that was not an ID of its type: reading `id` refuses it. */
export class RefusedGlobalId {
  constructor(
    readonly typename: string,
    private readonly field: string,
  ) {}

  get id(): string {
    throw invalid(this.field, `${this.field} is not a valid ${this.typename} ID`);
  }
}

/** Every global-ID value among `values`, replaced; named as forms name the input field. */
function mapIds<Types extends SchemaTypes>(
  values: Record<string, unknown>,
  ids: GlobalIdInputs<Types>,
  path: string[],
  replace: (value: unknown, accepted: Accepted, field: string) => unknown,
): Record<string, unknown> {
  const mapped = { ...values };
  for (const [name, mapping] of ids) {
    // A mutation's `input.` is left out ("memberId"), other arguments stay ("filter.roleIds").
    const here = path.length === 0 && name === "input" ? [] : [...path, name];
    if (mapping.kind === "InputObject") {
      const fields = mapping.fields.map;
      // An object in a list is named with its index ("locations.1.locationId").
      if (fields) mapped[name] = mapItems(values[name], mapping.listDepth, here, (item, at) => mapIds(item as Record<string, unknown>, fields, at, replace));
    } else {
      // A list of ids is named as a whole ("locations.0.roleIds").
      mapped[name] = mapItems(values[name], mapping.listDepth, here, (item) => replace(item, mapping.value, here.join(".")));
    }
  }
  return mapped;
}

function mapItems(value: unknown, depth: number, path: string[], map: (item: unknown, path: string[]) => unknown): unknown {
  if (value == null) return value;
  if (depth === 0) return map(value, path);
  return Array.isArray(value) ? value.map((item, index) => mapItems(item, depth - 1, [...path, String(index)], map)) : value;
}

/** Before relay: an id relay would refuse becomes one of the accepted type that holds no UUID. */
function standIn(value: unknown, accepted: Accepted): unknown {
  try {
    const { typename } = decodeGlobalID(String(value));
    if (accepted.some((type) => type.typename === typename)) return value;
  } catch {
    // Not base64 of "Type:id".
  }
  return encodeGlobalID(accepted[0]!.typename, "refused");
}

/** After relay: a decoded id that holds no UUID (the stand-ins among them) is refused. */
function refuseUnlessUuid(value: unknown, accepted: Accepted, field: string): unknown {
  const decoded = value as { typename: string; id: string };
  return UUID_PATTERN.test(decoded.id) ? decoded : new RefusedGlobalId(accepted.map((type) => type.typename).join(" or "), field);
}

class GlobalIdArgsPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  private readonly mappingCache = new Map<string, InputTypeFieldsMapping<Types, Accepted>>();

  override onOutputFieldConfig(fieldConfig: PothosOutputFieldConfig<Types>): PothosOutputFieldConfig<Types> {
    const ids = mapInputFields(fieldConfig.args, this.buildCache, (field) => (field.extensions?.relayGlobalIDFor as Accepted | null | undefined) ?? null, this.mappingCache);
    if (!ids) return fieldConfig;
    if (fieldConfig.argMappers.length === 0) {
      throw new PothosSchemaError(`${fieldConfig.parentType}.${fieldConfig.name}: list GlobalIdArgsPlugin before RelayPlugin, so relay's argument mapper is in place`);
    }
    return {
      ...fieldConfig,
      argMappers: [(args) => mapIds(args, ids, [], standIn), ...fieldConfig.argMappers, (args) => mapIds(args, ids, [], refuseUnlessUuid)],
    };
  }
}

const pluginName = "globalIdArgs";
export default pluginName;

declare global {
  export namespace PothosSchemaTypes {
    interface Plugins<Types extends SchemaTypes> {
      globalIdArgs: GlobalIdArgsPlugin<Types>;
    }
  }
}

SchemaBuilder.registerPlugin(pluginName, GlobalIdArgsPlugin);
