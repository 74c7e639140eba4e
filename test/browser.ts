// The browser the UI tests drive: Debian's chromium through playwright-core (playwright's own
// browser download cannot work on these machines), headless and quiet (no network of its own).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { chromium, type Browser, type Locator } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Fails with the install hint when chromium is missing. */
export function requireChromium(): void {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

/** Runs `act`, then resolves with currentTime at the next `seeked` event; rejects after 10 s. */
export async function seekedBy(player: Locator, act: () => Promise<void>): Promise<number> {
  await player.evaluate((v: HTMLVideoElement & { seekDone?: Promise<number> }) => {
    v.seekDone = new Promise((resolve, reject) => {
      v.addEventListener('seeked', () => resolve(v.currentTime), { once: true });
      setTimeout(() => reject(new Error(`no seek within 10 s: paused=${v.paused} readyState=${v.readyState} t=${v.currentTime}`)), 10_000);
    });
  });
  await act();
  return player.evaluate((v: HTMLVideoElement & { seekDone?: Promise<number> }) => v.seekDone!);
}
