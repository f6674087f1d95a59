/** Flow 8: sign in with an API key, the workspace name shown, sign out; the app served at `/`. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebEnv, type WebEnv } from "./support.ts";

describe("web app: sign in and out (flow 8)", () => {
  let env: WebEnv;
  beforeAll(async () => {
    env = await startWebEnv(20);
  });
  afterAll(async () => {
    await env?.stop();
  });

  it("serves the app at / and its pages, while the API keeps its JSON 404s", async () => {
    const root = await fetch(`${env.s.url}/`);
    expect(root.status).toBe(200);
    expect(await root.text()).toContain('<div id="root">');
    expect((await fetch(`${env.s.url}/segments/seg_x/edit`)).status).toBe(200);
    const api404 = await env.s.call("GET", "/v1/nope");
    expect(api404.status).toBe(404);
    expect(api404.body.error.code).toBe("not_found");
    expect((await fetch(`${env.s.url}/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${env.s.url}/healthz`)).status).toBe(200);
  });

  it("refuses a wrong key, signs in with a good one, shows the workspace, signs out", async () => {
    const page = await env.browser.newPage();
    await page.goto(env.s.url);
    await page.getByLabel("API key").fill("sk_wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").getByText("Unknown or revoked API key").waitFor();

    const ws = await env.s.call("POST", "/v1/workspaces", { name: "Acme Marketing" });
    expect(ws.status).toBe(201);
    await page.getByLabel("API key").fill(ws.body.api_key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("workspace-name").getByText("Acme Marketing").waitFor();
    expect(await page.evaluate("localStorage.getItem('slice.apiKey')")).toBe(ws.body.api_key);

    // The key survives a reload; signing out forgets it.
    await page.reload();
    await page.getByTestId("workspace-name").getByText("Acme Marketing").waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(await page.evaluate("localStorage.getItem('slice.apiKey')")).toBeNull();
    await page.close();
  });
});
