/**
 * The import page: rejected rows list the CSV column at fault beside the row, and the
 * file's date format can be picked, so 13/12/1990 imports as 13 December 1990.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedIn, startWebEnv, type WebEnv } from "./support.ts";

async function pick(page: Page, label: string, option: string) {
  await page.getByLabel(label, { exact: true }).first().click();
  await page.getByRole("option", { name: option, exact: true }).click();
}

describe("web app: import errors by column, and date formats", () => {
  let env: WebEnv;
  let page: Page;
  beforeAll(async () => {
    env = await startWebEnv(5);
    const f = await env.s.call("POST", "/v1/fields", { key: "birthday", type: "date", label: "Birthday" });
    expect(f.status).toBe(201);
    page = await signedIn(env, "/import");
  });
  afterAll(async () => {
    await env?.stop();
  });

  /** Waits for the job to end well; otherwise fails with what the page and the server show. */
  const importDone = async () => {
    try {
      await page.getByTestId("import-job").getByText("Import done").waitFor();
    } catch (e) {
      const shown = await page
        .locator("body")
        .textContent({ timeout: 5_000 })
        .catch(() => "(page unreadable)");
      const jobs = await env.s.call("GET", "/v1/imports").catch((err: unknown) => ({ body: String(err) }));
      throw new Error(
        `${(e as Error).message}\npage shows:\n${shown}\nGET /v1/imports: ${JSON.stringify(jobs.body)}`,
      );
    }
  };

  const upload = async (csv: string) => {
    await page.goto(`${env.s.url}/import`);
    await page.locator('input[type="file"]').setInputFiles({
      name: "people.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(csv),
    });
    await page.getByLabel("Field for column Date of birth", { exact: true }).first().waitFor();
  };

  it("imports day/month/year dates with the format picked, and names the column of a bad one", async () => {
    await upload(
      ["Email,Date of birth,Score", "dmy1@example.com,13/12/1990,4", "dmy2@example.com,31/02/1991,5"].join(
        "\n",
      ),
    );
    await pick(page, "Field for column Date of birth", "Birthday");
    await pick(page, "Dates in the file", "DD/MM/YYYY (13/12/1990)");
    await page.getByRole("button", { name: "Start import" }).click();
    await importDone();
    await page.getByTestId("import-counts").getByText("1 imported · 1 rejected", { exact: false }).waitFor();
    const row = page.getByTestId("import-errors").locator("tbody tr");
    expect(await row.count()).toBe(1);
    const cells = await row.first().locator("td").allTextContents();
    expect(cells).toEqual([
      "3",
      "Date of birth",
      'expected a date as DD/MM/YYYY, got "31/02/1991", which is no day of the calendar',
    ]);
    const c = (await env.s.call("GET", "/v1/contacts?email=dmy1%40example.com")).body.data[0];
    expect(c.fields).toMatchObject({ birthday: "1990-12-13", score: 4 });
  });

  it("maps the file's columns once the fields arrive, when the file came first", async () => {
    // The fields answer late, as on a slow connection: the file is read before them.
    let release: () => void = () => {};
    const late = new Promise<void>((r) => {
      release = r;
    });
    await page.route(/\/v1\/fields/, async (route) => {
      await late;
      await route.continue();
    });
    try {
      await page.goto(`${env.s.url}/import`);
      await page.locator('input[type="file"]').setInputFiles({
        name: "people.csv",
        mimeType: "text/csv",
        buffer: Buffer.from(["Email,Date of birth", "late@example.com,1990-01-02"].join("\n")),
      });
      const email = page.getByLabel("Field for column Email", { exact: true }).first();
      await email.waitFor();
      release();
      await expect.poll(() => email.inputValue(), { timeout: 10_000 }).toBe("Email");
    } finally {
      release();
      await page.unroute(/\/v1\/fields/);
    }
  });

  it("names the column, not the contact's path, when the server refuses a value", async () => {
    await upload(["Email,Date of birth", "iso@example.com,1990-02-30"].join("\n"));
    await pick(page, "Field for column Date of birth", "Birthday");
    await page.getByRole("button", { name: "Start import" }).click();
    await importDone();
    const cells = await page.getByTestId("import-errors").locator("tbody tr td").allTextContents();
    expect(cells[0]).toBe("2");
    expect(cells[1]).toBe("Date of birth");
    expect(cells[2]).not.toMatch(/contacts\[|fields\./);
  });
});
