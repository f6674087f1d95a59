/**
 * Which URLs a webhook may be delivered to (SPEC §4, docs/webhooks.md).
 *
 * Always: an absolute `http:` or `https:` URL. With `denyPrivate` (the service sets it
 * from `SLICE_WEBHOOK_DENY_PRIVATE=1`), the host must also be a public unicast address,
 * or a name whose every resolved address is one: loopback, private (10/8, 172.16/12,
 * 192.168/16), carrier-grade NAT, link-local, unique-local (fc00::/7), unspecified,
 * multicast, reserved and the IPv6 ranges that embed an IPv4 address (6to4, Teredo,
 * NAT64) are refused. IPv4-mapped IPv6 addresses are judged as the IPv4 address.
 *
 * The check runs when a subscription is created and again before every delivery, so a
 * name that later resolves to a private address (DNS rebinding) is refused then.
 */
import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";

export interface WebhookUrlOptions {
  denyPrivate: boolean;
  /** Name resolution (default: `dns.lookup` with `all: true`); injectable for tests. */
  resolve?: (hostname: string) => Promise<string[]>;
}

async function resolveAll(hostname: string): Promise<string[]> {
  const found = await lookup(hostname, { all: true, verbatim: true });
  return found.map((a) => a.address);
}

/** Null when the address is a public unicast one, else the name of its range. */
export function nonPublicRange(address: string): string | null {
  if (!ipaddr.isValid(address)) return "invalid";
  // process() turns an IPv4-mapped IPv6 address (::ffff:10.0.0.1) into the IPv4 one.
  const range = ipaddr.process(address).range();
  return range === "unicast" ? null : range;
}

/** Strips the brackets of an IPv6 literal in `URL.hostname`. */
function bareHost(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}

/** An error message for a URL that webhooks may not use, or null when it is fine. */
export async function checkWebhookUrl(url: string, opts: WebhookUrlOptions): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "url must be an absolute http or https URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return "url must use http or https";
  }
  const host = bareHost(parsed.hostname);
  if (host === "") return "url has no host";
  if (!opts.denyPrivate) return null;

  // The URL parser has already normalised numeric forms (http://2130706433/ → 127.0.0.1).
  if (ipaddr.isValid(host)) {
    const range = nonPublicRange(host);
    return range === null ? null : `url host ${host} is not a public address (${range})`;
  }
  let addresses: string[];
  try {
    addresses = await (opts.resolve ?? resolveAll)(host);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return `url host ${host} does not resolve${typeof code === "string" ? ` (${code})` : ""}`;
  }
  if (addresses.length === 0) return `url host ${host} does not resolve`;
  for (const address of addresses) {
    const range = nonPublicRange(address);
    if (range !== null) return `url host ${host} resolves to ${address}, not a public address (${range})`;
  }
  return null;
}
