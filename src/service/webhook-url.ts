/**
 * Which URLs a webhook may be delivered to (SPEC §4, docs/webhooks.md).
 *
 * Always: an absolute `http:` or `https:` URL. With `denyPrivate` (the default of the
 * service; `SLICE_WEBHOOK_ALLOW_PRIVATE=1` lifts it), the host must also be a public
 * unicast address, or a name whose every resolved address is one: loopback, private
 * (10/8, 172.16/12, 192.168/16), carrier-grade NAT, link-local, unique-local (fc00::/7),
 * unspecified, multicast, reserved and the IPv6 ranges that embed an IPv4 address (6to4,
 * Teredo, NAT64) are refused. IPv4-mapped IPv6 addresses are judged as the IPv4 address.
 *
 * `checkWebhookUrl` runs when a subscription is created. Before every delivery,
 * `resolveWebhookTarget` resolves the name once, checks every address, and hands back the
 * address to connect to: the request goes there (`pinnedLookup`), so a name that
 * answers differently between the check and the connection (DNS rebinding) cannot lead
 * the request to a private address.
 */

import { lookup } from "node:dns/promises";
import type { LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";

export interface WebhookUrlOptions {
  denyPrivate: boolean;
  /** Name resolution (default: `dns.lookup` with `all: true`); injectable for tests. */
  resolve?: (hostname: string) => Promise<string[]>;
}

/** Where a delivery connects: the URL as given, and the checked address of its host. */
export type WebhookTarget =
  | { ok: true; url: URL; address: string; family: 4 | 6 }
  | { ok: false; error: string; refused: boolean };

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

function parseUrl(url: string): { url: URL; host: string } | string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "url must be an absolute http or https URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return "url must use http or https";
  const host = bareHost(parsed.hostname);
  if (host === "") return "url has no host";
  return { url: parsed, host };
}

type Resolution =
  | { kind: "ok"; addresses: string[] }
  | { kind: "refused"; range: string }
  | { kind: "unresolved"; error: string };

/** Every address of `host` (the URL parser has already normalised numeric forms), checked. */
async function resolveChecked(host: string, opts: WebhookUrlOptions): Promise<Resolution> {
  let addresses: string[];
  if (ipaddr.isValid(host)) addresses = [host];
  else {
    try {
      addresses = await (opts.resolve ?? resolveAll)(host);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      return {
        kind: "unresolved",
        error: `url host ${host} does not resolve${typeof code === "string" ? ` (${code})` : ""}`,
      };
    }
    if (addresses.length === 0) return { kind: "unresolved", error: `url host ${host} does not resolve` };
  }
  if (opts.denyPrivate) {
    for (const address of addresses) {
      const range = nonPublicRange(address);
      if (range !== null) return { kind: "refused", range };
    }
  }
  return { kind: "ok", addresses };
}

/** An error message for a URL that webhooks may not use, or null when it is fine. */
export async function checkWebhookUrl(url: string, opts: WebhookUrlOptions): Promise<string | null> {
  const p = parseUrl(url);
  if (typeof p === "string") return p;
  // Without the rule there is nothing to resolve for: a name that does not resolve yet
  // fails at delivery, as any unreachable receiver does.
  if (!opts.denyPrivate) return null;
  const r = await resolveChecked(p.host, opts);
  if (r.kind === "unresolved") return r.error;
  if (r.kind === "refused") {
    // The resolved address itself is not echoed: it would map the internal network.
    return ipaddr.isValid(p.host)
      ? `url host ${p.host} is not a public address (${r.range})`
      : `url host ${p.host} resolves to a non-public address (${r.range})`;
  }
  return null;
}

/**
 * Before a delivery: the address to connect to, resolved once and checked. A refused
 * address is reported only as "address not allowed" (and its range), never probed, so
 * the delivery log cannot be used to scan internal hosts and ports.
 */
export async function resolveWebhookTarget(url: string, opts: WebhookUrlOptions): Promise<WebhookTarget> {
  const p = parseUrl(url);
  if (typeof p === "string") return { ok: false, error: p, refused: true };
  const r = await resolveChecked(p.host, opts);
  if (r.kind === "unresolved") return { ok: false, error: r.error, refused: false };
  if (r.kind === "refused") return { ok: false, error: `address not allowed (${r.range})`, refused: true };
  const address = ipaddr.process(r.addresses[0]).toString();
  return { ok: true, url: p.url, address, family: ipaddr.IPv4.isValid(address) ? 4 : 6 };
}

/**
 * A `lookup` for `http.request` that answers `address` whatever the name: the request
 * keeps the URL's host for its Host header and TLS server name, and connects to the
 * address that was checked.
 */
export function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return (_hostname, options, callback) => {
    // Node asks for a list when it may try several addresses (autoSelectFamily).
    if ((options as { all?: boolean }).all) {
      (callback as (err: null, addresses: { address: string; family: number }[]) => void)(null, [
        { address, family },
      ]);
    } else {
      callback(null, address, family);
    }
  };
}
