/**
 * Headless Chromium from Debian's `chromium` package, driven by playwright-core (never a browser
 * that Playwright downloads). Tests skip, saying why, where it is not installed; CI installs it.
 */
import { existsSync } from "node:fs";

export const CHROMIUM = process.env.SEEC_CHROMIUM ?? "/usr/bin/chromium";
export const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) console.warn(`skipping browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set SEEC_CHROMIUM)`);

export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}
