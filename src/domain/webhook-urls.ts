// Where a webhook may be sent. At registration: a well-formed https:// URL (http:// only for
// WEBHOOK_ALLOW_HTTP_HOSTS), no credentials, a host that resolves. At every delivery: the host is
// resolved again and refused when any address it resolves to is loopback, private, link-local,
// shared, multicast, reserved or a cloud metadata address, unless the host is listed in
// WEBHOOK_ALLOW_PRIVATE_HOSTS; the request then goes to the address that was checked, so a DNS
// answer that changes in between (rebinding) can't redirect it.
import dns from "node:dns/promises";
import net from "node:net";
import { invalid } from "../core/errors.js";

export interface UrlRules {
  allowHttpHosts: readonly string[];
  allowPrivateHosts: readonly string[];
}

const MAX_URL_LENGTH = 2_000;

/** Addresses no webhook goes to unless its host is allowed: IPv4 and IPv6 ranges not on the public internet. */
const NOT_PUBLIC = new net.BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], // "this" network
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // shared (carrier-grade NAT)
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, with the cloud metadata address 169.254.169.254
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, and the broadcast address
] as const) NOT_PUBLIC.addSubnet(network, prefix, "ipv4");
for (const [network, prefix] of [
  ["::", 96], // unspecified, loopback, and the deprecated IPv4-compatible ::a.b.c.d
  ["::ffff:0:0:0", 96], // IPv4-translated ::ffff:0:a.b.c.d
  ["2001::", 32], // Teredo: tunnels to an IPv4 address it hides
  ["2002::", 16], // 6to4: tunnels to the IPv4 address it carries
  ["64:ff9b:1::", 48], // local-use NAT64
  ["100::", 64], // discard
  ["2001:db8::", 32], // documentation
  ["fc00::", 7], // unique local, with AWS's metadata address fd00:ec2::254
  ["fe80::", 10], // link-local
  ["fec0::", 10], // old site-local
  ["ff00::", 8], // multicast
] as const) NOT_PUBLIC.addSubnet(network, prefix, "ipv6");

/** The IPv4 address an IPv6 address carries (mapped ::ffff:a.b.c.d, or well-known NAT64 64:ff9b::a.b.c.d), if any. */
function embeddedIpv4(address: string): string | null {
  const mapped = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return null;
  const high = Number.parseInt(hex[1]!, 16);
  const low = Number.parseInt(hex[2]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
}

/** An IPv6 address as URLs print it (compressed, hex, lower case), so every spelling of one address matches the same patterns. */
function canonicalIpv6(address: string): string {
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address;
  }
}

/** Whether a webhook may not go to this address (unless its host is allowed private). */
export function isNonPublicAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return NOT_PUBLIC.check(address, "ipv4");
  if (family !== 6) return true;
  const canonical = canonicalIpv6(address);
  const inner = embeddedIpv4(canonical);
  return inner !== null ? NOT_PUBLIC.check(inner, "ipv4") : NOT_PUBLIC.check(canonical, "ipv6");
}

/** The URL's host as DNS takes it: an IPv6 address without brackets, no trailing dot. */
const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "");

/** Whether an allow-list (config.ts, hostList: "host" or "host:port") names the URL's host, on its port. */
function listed(list: readonly string[], url: URL): boolean {
  const host = url.hostname.replace(/\.$/, "");
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return list.includes(host) || list.includes(`${host}:${port}`);
}

/** A registered URL, or BAD_USER_INPUT (field "url") saying what is wrong with it. */
export function parseWebhookUrl(raw: string, rules: UrlRules): URL {
  const text = raw.trim();
  if (text.length === 0) throw invalid("url", "url must not be empty");
  if (text.length > MAX_URL_LENGTH) throw invalid("url", `url must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid("url", `url is not a valid URL: "${text.slice(0, 100)}"`);
  }
  const host = hostOf(url);
  if (url.protocol === "http:") {
    if (!listed(rules.allowHttpHosts, url)) throw invalid("url", `url must be https:// (http:// only for hosts in WEBHOOK_ALLOW_HTTP_HOSTS; ${url.host} is not)`);
  } else if (url.protocol !== "https:") {
    throw invalid("url", `url must be https:// (got ${url.protocol}//)`);
  }
  if (url.username || url.password) throw invalid("url", "url must not hold a user name or password: verify deliveries by their signature instead");
  if (!host) throw invalid("url", "url has no host");
  url.hash = "";
  return url;
}

export type Resolved = { address: string; family: 4 | 6 };

/**
 * The address to deliver to: the host's first address, when every address it resolves to may be
 * used. Throws an Error saying why not (no address, a private one) — the delivery log shows it.
 */
export async function resolveDeliveryAddress(url: URL, rules: UrlRules): Promise<Resolved> {
  const host = hostOf(url);
  let addresses: { address: string; family: number }[];
  try {
    addresses = net.isIP(host) ? [{ address: host, family: net.isIP(host) }] : await dns.lookup(host, { all: true, verbatim: true });
  } catch (error) {
    throw new Error(`could not resolve ${host}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (addresses.length === 0) throw new Error(`${host} resolves to no address`);
  if (!listed(rules.allowPrivateHosts, url)) {
    const refused = addresses.find(({ address }) => isNonPublicAddress(address));
    if (refused) throw new Error(`refused: ${host} resolves to ${refused.address}, a loopback, private, link-local or metadata address (allow it with WEBHOOK_ALLOW_PRIVATE_HOSTS)`);
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** At registration: the URL's rules, and that its host resolves to addresses it may use. */
export async function checkWebhookUrl(raw: string, rules: UrlRules): Promise<URL> {
  const url = parseWebhookUrl(raw, rules);
  try {
    await resolveDeliveryAddress(url, rules);
  } catch (error) {
    throw invalid("url", (error as Error).message);
  }
  return url;
}
