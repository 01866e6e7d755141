/**
 * Headless Chromium (Debian's, installed by .ci/run) for page tests: a fresh profile per launch,
 * and a `visit` that records console errors, page errors, failed and foreign requests.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { expect } from "vitest";

const chromiumPath = "/usr/bin/chromium";

export interface Chromium {
  browser: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Chromium> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: .ci/run installs Debian's chromium when missing`);
  }
  const profile = mkdtempSync(join(tmpdir(), "facevault-chromium-"));
  // A persistent context is how Playwright takes a --user-data-dir: a fresh one per run.
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface Visit {
  page: Page;
  problems: string[];
  foreign: string[];
}

/** Opens `base + path`, recording console errors, page errors, failed and foreign requests. */
export async function visit(browser: BrowserContext, base: string, path: string): Promise<Visit> {
  const page = await browser.newPage();
  const problems: string[] = [];
  const foreign: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("data:")) foreign.push(r.url());
  });
  const res = await page.goto(base + path, { waitUntil: "load" });
  expect(res?.status()).toBe(200);
  return { page, problems, foreign };
}
