declare module "*/scripts/build.mjs" {
  export const SERVER_NODE_ARGS: string[];
  export function ensureBuilt(options?: { quiet?: boolean }): Promise<boolean>;
}
