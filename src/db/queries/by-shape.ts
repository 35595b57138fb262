// How the lean lists batch: a DataLoader key is one organization and one shape of arguments
// (page size, cursor, filter, order); keys of one shape share one statement for all their
// organizations.

export interface ShapedKey {
  organizationId: string;
  /** Identical for keys whose arguments are the same. */
  shape: string;
}

export const shapedCacheKey = (key: ShapedKey) => `${key.organizationId}:${key.shape}`;

/**
 * A DataLoader batch function: groups the keys by shape, runs `load` once per shape (with that
 * shape's first key, for its arguments) for all of the group's organizations, and answers in key
 * order, `missing(key)` where `load` returned nothing for an organization.
 */
export function byShape<K extends ShapedKey, T>(load: (organizationIds: string[], sample: K) => Promise<Map<string, T>>, missing: (key: K) => T) {
  return async (keys: readonly K[]): Promise<T[]> => {
    const groups = new Map<string, K[]>();
    for (const key of keys) {
      const group = groups.get(key.shape);
      if (group) group.push(key);
      else groups.set(key.shape, [key]);
    }
    const results = new Map<string, T>();
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const loaded = await load([...new Set(group.map((key) => key.organizationId))], group[0]!);
        for (const key of group) {
          const found = loaded.get(key.organizationId);
          if (found !== undefined) results.set(shapedCacheKey(key), found);
        }
      }),
    );
    return keys.map((key) => results.get(shapedCacheKey(key)) ?? missing(key));
  };
}
