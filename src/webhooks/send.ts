// One delivery attempt over HTTP(S): a POST to the address the URL's host was checked to resolve
// to (webhook-urls.ts), with the URL's host name for TLS and the Host header; no redirects
// followed; the whole attempt, connection to the end of the response, within the timeout; at most
// 4 KB of the response read.
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import type { Resolved } from "../domain/webhook-urls.js";

const MAX_RESPONSE_BYTES = 4_096;

/** What an attempt came to: ok for a 2xx in time; else the status and body (if any answer came) and why it failed. */
export interface AttemptResult {
  ok: boolean;
  status: number | null;
  body: string | null;
  error: string | null;
}

const USER_AGENT = "MembershipGraph-Webhooks/1";

export function postWebhook(url: URL, to: Resolved, headers: Record<string, string>, body: string, timeoutMs: number): Promise<AttemptResult> {
  // Every connection of this request goes to the checked address.
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all) (callback as unknown as (error: null, addresses: { address: string; family: number }[]) => void)(null, [to]);
    else callback(null, to.address, to.family);
  };
  const transport = url.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(result);
    };
    const failed = (error: string) => finish({ ok: false, status: null, body: null, error });
    const request = transport.request(
      url,
      {
        method: "POST",
        lookup,
        agent: false,
        headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body), "user-agent": USER_AGENT },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          const text = Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString("utf8");
          const redirect = status >= 300 && status < 400 ? `redirect not followed (${status} to ${response.headers.location ?? "nowhere"})` : null;
          const ok = status >= 200 && status < 300;
          finish({ ok, status, body: text, error: redirect ?? (ok ? null : `answered ${status}`) });
        };
        response.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= MAX_RESPONSE_BYTES) done();
        });
        response.on("end", done);
        response.on("error", (error) => failed(`response failed: ${error.message}`));
      },
    );
    const timer = setTimeout(() => failed(`timed out after ${timeoutMs} ms`), timeoutMs);
    request.on("error", (error: NodeJS.ErrnoException) => failed(`${error.code ?? "request failed"}: ${error.message}`));
    request.end(body);
  });
}
