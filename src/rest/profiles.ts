// The REST compatibility profiles (README, "REST compatibility"), each served under /compat/<name>.
import { ConfigError } from "../config.js";
import { locations } from "./profiles/locations.js";
import { piper } from "./profiles/piper.js";
import { pxyz } from "./profiles/pxyz.js";
import { wacht } from "./profiles/wacht.js";
import type { Profile } from "./route.js";

const PROFILES: readonly Profile[] = [piper, wacht, pxyz, locations];

/** The profiles REST_PROFILES turns on (config.restProfiles; null: all), or a ConfigError naming an unknown one. */
export function enabledProfiles(names: readonly string[] | null): Profile[] {
  if (names === null) return [...PROFILES];
  const unknown = names.find((name) => !PROFILES.some((profile) => profile.name === name));
  if (unknown) throw new ConfigError(`REST_PROFILES: "${unknown}" is not a profile (${PROFILES.map((profile) => profile.name).join(", ")}, all or none)`);
  return PROFILES.filter((profile) => names.includes(profile.name));
}
