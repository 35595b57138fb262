// Each profile's API reference page, /compat/<profile>/docs: Swagger UI over the profile's
// OpenAPI document, from the swagger-ui-dist package's own files (no CDN, so it works offline),
// and no inline script (the page's one script is a file of its own).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

/** Where the shared assets are served. */
export const ASSET_PATH = "/compat/_reference/";

const read = (() => {
  const cache = new Map<string, Buffer>();
  const resolve = createRequire(import.meta.url).resolve;
  return (name: string) => {
    let body = cache.get(name);
    if (!body) cache.set(name, (body = readFileSync(resolve(`swagger-ui-dist/${name}`))));
    return body;
  };
})();

/** A shared asset (Swagger UI's script and styles), or null for any other name. */
export function referenceAsset(name: string): Response | null {
  if (!Object.hasOwn(ASSETS, name)) return null;
  const type = ASSETS[name]!;
  return new Response(new Uint8Array(read(name)), { status: 200, headers: { "content-type": type, "cache-control": "public, max-age=86400" } });
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page of one profile. */
export function referencePage(profile: { name: string; title: string }): Response {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(profile.title)}</title>
<link rel="stylesheet" href="${ASSET_PATH}swagger-ui.css">
</head>
<body>
<div id="reference"></div>
<script src="${ASSET_PATH}swagger-ui-bundle.js"></script>
<script src="/compat/${profile.name}/docs/init.js"></script>
</body>
</html>
`;
  return new Response(html, { status: 200, headers: { "content-type": "text/html; charset=utf-8" } });
}

/** The page's script: Swagger UI on the profile's OpenAPI document; "Try it out" sends your token as a Bearer header. */
export function referenceScript(profile: { name: string }): Response {
  const script = `window.ui = SwaggerUIBundle({ url: ${JSON.stringify(`/compat/${profile.name}/openapi.json`)}, dom_id: "#reference", deepLinking: true, persistAuthorization: false });\n`;
  return new Response(script, { status: 200, headers: { "content-type": "text/javascript; charset=utf-8" } });
}
