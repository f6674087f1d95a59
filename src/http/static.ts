/**
 * The web app (web/, built to web/dist by `npm run build:web`) served at `/`: its
 * assets, and index.html for the app's own pages (client-side routes). The API keeps
 * precedence: `/v1/…`, `/docs` and `/healthz` are other routes, and any other path
 * answers the JSON 404.
 */
import { existsSync } from "node:fs";
import { join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

export const WEB_DIST = fileURLToPath(new URL("../../web/dist", import.meta.url));

/** The first segment of the app's pages; other paths are not the app's. */
const APP_PAGES = new Set([
  "",
  "sign-in",
  "segments",
  "contacts",
  "import",
  "sources",
  "destinations",
  "schedules",
  "webhooks",
  "fields",
]);

/**
 * The app is one module script and one stylesheet from /assets (no inline script, see
 * web/dist/index.html), and talks to its own origin only. Styles allow 'unsafe-inline':
 * Mantine writes its theme variables into a <style> element at run time, and components
 * set style attributes; no script may run inline. Images may be data: URLs (icons).
 */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Sent with every answer of the web app's paths (the API's own add nosniff only). */
export const WEB_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": WEB_CSP,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  // The app's URLs name segments and contacts: they stay on this origin.
  "referrer-policy": "same-origin",
};

export async function registerStatic(app: FastifyInstance, dist = WEB_DIST): Promise<void> {
  await app.register(fastifyStatic, { root: dist, serve: false });
  app.get("/*", async (req, reply) => {
    reply.headers(WEB_HEADERS);
    const path = decodeURIComponent(req.url.split("?")[0]!);
    const first = path.split("/")[1] ?? "";
    if (first === "assets" || /^\/[\w.-]+\.(svg|ico|png|txt|webmanifest)$/.test(path)) {
      const rel = normalize(path).replace(/^([/\\])+/, "");
      if (!rel.startsWith("..") && existsSync(join(dist, rel))) {
        // Files under /assets are named by their content; the others (favicon…) are not.
        const cache = first === "assets" ? "public, max-age=31536000, immutable" : "public, max-age=3600";
        return reply.header("Cache-Control", cache).sendFile(rel);
      }
      return reply.callNotFound();
    }
    if (!APP_PAGES.has(first)) return reply.callNotFound();
    if (!existsSync(join(dist, "index.html"))) {
      return reply
        .status(503)
        .type("text/html")
        .send("<!doctype html><p>The web app is not built: run <code>npm run build:web</code>.</p>");
    }
    return reply.header("Cache-Control", "no-cache").sendFile("index.html");
  });
}
