/**
 * `/v1/openapi.json` describes the API: TypeScript types generated from the live
 * document with openapi-typescript must type-check a client (test/openapi-client) that
 * calls every operation and reads the answers' fields, and that client, run against the
 * same server, must get the statuses and bodies it expects.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import openapiTS, { astToString, type OpenAPI3 } from "openapi-typescript";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, startTestServer, type TestServer } from "../support/server.ts";

const CLIENT_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "openapi-client");
const GENERATED = join(CLIENT_DIR, "generated", "api.d.ts");
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"] as const;

type Exercise = (baseUrl: string, adminKey: string, receiverUrl: string) => Promise<string[]>;

let s: TestServer;
let receiver: Server;
let receiverUrl: string;
let doc: OpenAPI3;

/** Webhooks, the http destination and the export target all post or put here. */
function startReceiver(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** Every `METHOD /path` of the document. */
function documentedOperations(d: OpenAPI3): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(d.paths ?? {})) {
    for (const m of METHODS) if (m in item) out.push(`${m.toUpperCase()} ${path}`);
  }
  return out.sort();
}

/** Type-checks the client with the project's compiler settings; the diagnostics, formatted. */
function typeCheck(file: string): string[] {
  const configPath = join(CLIENT_DIR, "tsconfig.json");
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  if (config.error) return [ts.flattenDiagnosticMessageText(config.error.messageText, "\n")];
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, CLIENT_DIR);
  const program = ts.createProgram([file], parsed.options);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (!d.file || d.start === undefined) return text;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${d.file.fileName.replace(`${CLIENT_DIR}/`, "")}:${line + 1}:${character + 1} ${text}`;
  });
}

beforeAll(async () => {
  receiver = await startReceiver();
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  s = await startTestServer(
    { kind: "sqlite" },
    {
      secretKey: "openapi-client-secret-0123456789",
      allowInsecureExportTargets: true,
      destinationPollMs: 50,
    },
  );
  const r = await fetch(`${s.url}/v1/openapi.json`);
  expect(r.status).toBe(200);
  doc = (await r.json()) as OpenAPI3;
});

afterAll(async () => {
  await s?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

describe("a client typed by openapi-typescript from /v1/openapi.json", () => {
  it("type-checks, and calls every documented operation with the answers it expects", async () => {
    let types: string;
    try {
      types = astToString(await openapiTS(doc, { silent: true }));
    } catch (e) {
      throw new Error(`openapi-typescript cannot read /v1/openapi.json: ${(e as Error).message}`);
    }
    mkdirSync(dirname(GENERATED), { recursive: true });
    // Rewritten only when it changed, so an editor watching the folder is not disturbed.
    const previous = (() => {
      try {
        return readFileSync(GENERATED, "utf8");
      } catch {
        return null;
      }
    })();
    if (previous !== types) writeFileSync(GENERATED, types);

    const diagnostics = typeCheck(join(CLIENT_DIR, "client.ts"));
    expect(
      diagnostics,
      `the client does not type-check against the document:\n${diagnostics.join("\n")}`,
    ).toEqual([]);

    // Loaded by URL: the root `tsc -p .` must not follow it to a generated file that a clean
    // checkout does not have.
    const mod = (await import(pathToFileURL(join(CLIENT_DIR, "client.ts")).href)) as {
      exerciseEveryRoute: Exercise;
    };
    const called = await mod.exerciseEveryRoute(s.url, ADMIN_KEY, receiverUrl);

    const documented = documentedOperations(doc);
    const missing = documented.filter((op) => !called.includes(op));
    const undocumented = called.filter((op) => !documented.includes(op));
    expect(missing, `operations the client never called: ${missing.join(", ")}`).toEqual([]);
    expect(undocumented, `operations called but not in the document: ${undocumented.join(", ")}`).toEqual([]);
    expect(called.length).toBeGreaterThan(70);
  });
});
