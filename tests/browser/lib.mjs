// What every browser scenario of the web console shares: its settings (the
// JSON file `tests/console.rs` writes), headless Chromium with a fresh
// profile, logging in, the `data-test` hooks, screenshots, results and
// failures.
//
// A scenario is `node tests/browser/<name>.mjs <settings.json>`. It prints
// one JSON line per result on standard output and, on any failure, a line
// starting with `FAILED:` on standard error and exits 1.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// Longest any one wait (a click, a page, an element) may take.
const STEP_MS = 15_000;
// Longest a whole scenario may take before it is stopped as hung.
const SCENARIO_MS = 90_000;

// A phone held upright (a mid-range Android handset).
export const PHONE = { width: 390, height: 844 };
// A desk computer.
export const DESK = { width: 1280, height: 900 };

// The settings file named on the command line.
export async function settings() {
  const path = process.argv[2];
  if (!path) {
    throw new Error('usage: node <scenario>.mjs <settings.json> (tests/console.rs writes it)');
  }
  return JSON.parse(await readFile(path, 'utf8'));
}

// The CSS selector of a `data-test` hook.
export function hook(name) {
  return `[data-test="${name}"]`;
}

// Fails the scenario with `message` unless `condition` holds.
export function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

// Prints one machine-readable result line.
export function emit(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// A headless Chromium with a profile of its own, removed when the
// scenario ends.
export class Browser {
  static async launch(config, viewport = DESK) {
    const profile = await mkdtemp(join(tmpdir(), 'nguon-console-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: config.chromium,
      headless: true,
      viewport,
      locale: 'vi-VN',
      timezoneId: 'Asia/Ho_Chi_Minh',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context.setDefaultTimeout(STEP_MS);
    context.setDefaultNavigationTimeout(STEP_MS);
    const page = context.pages()[0] ?? (await context.newPage());
    return new Browser(config, context, page, profile);
  }

  constructor(config, context, page, profile) {
    this.config = config;
    this.context = context;
    this.page = page;
    this.profile = profile;
  }

  // The absolute URL of a console path (`/console/...`).
  url(path) {
    return new URL(path, this.config.origin).href;
  }

  // Opens `path` and answers the HTTP response.
  async open(path) {
    const response = await this.page.goto(this.url(path));
    check(response !== null, `no answer for ${path}`);
    return response;
  }

  // Logs in as the account `who` names in the settings and answers the
  // page the console sent them to.
  async login(who) {
    const account = this.config.accounts[who];
    check(account, `no account "${who}" in the settings`);
    await this.open('/console/login');
    await this.page.fill(hook('login-username'), account.username);
    await this.page.fill(hook('login-password'), account.password);
    await Promise.all([this.page.waitForNavigation(), this.page.click(hook('login-submit'))]);
    const refused = await this.page.locator(hook('error')).count();
    check(refused === 0, `logging in as ${account.username} was refused: ${await this.text('error')}`);
    check(
      !new URL(this.page.url()).pathname.startsWith('/console/login'),
      `logging in as ${account.username} stayed on ${this.page.url()}`,
    );
    return new URL(this.page.url()).pathname;
  }

  // Clicks hook `name` and waits for the page it leads to.
  async follow(name) {
    await Promise.all([this.page.waitForNavigation(), this.page.click(hook(name))]);
  }

  // The visible text of hook `name`, trimmed ("" when it is absent).
  async text(name) {
    const element = this.page.locator(hook(name));
    if ((await element.count()) === 0) {
      return '';
    }
    return (await element.first().innerText()).trim();
  }

  // Fails unless hook `name` is on the page; answers its element.
  async need(name) {
    const element = this.page.locator(hook(name));
    check((await element.count()) > 0, `no [data-test="${name}"] on ${this.page.url()}`);
    return element.first();
  }

  // Sets form control `name` to `value`, whatever kind of control it is.
  async set(name, value) {
    const element = await this.need(name);
    const tag = await element.evaluate((e) => e.tagName.toLowerCase());
    if (tag === 'select') {
      await element.selectOption(value);
    } else {
      await element.fill(value);
    }
  }

  // The `data-test` names of the hooks inside hook `within` whose names
  // start with `prefix`, in page order.
  async hooksIn(within, prefix) {
    return this.page
      .locator(`${hook(within)} [data-test^="${prefix}"]`)
      .evaluateAll((elements) => elements.map((e) => e.dataset.test));
  }

  // Sends the form of button `button` with control `field` left empty or
  // unticked: the browser's own check stops it first (when the control is
  // `required`), then, with that check out of the way, the server must
  // refuse it. Answers the server's error message.
  async refusedEmpty(field, button) {
    const control = await this.need(field);
    const before = this.page.url();
    if (await control.evaluate((e) => e.required)) {
      await this.page.click(hook(button));
      check(
        (await control.evaluate((e) => e.validationMessage)) !== '',
        `the browser let the form of ${button} go without ${field}`,
      );
      check(this.page.url() === before, `without ${field}, ${button} left the page`);
      await control.evaluate((e) => {
        e.required = false;
      });
    }
    await this.follow(button);
    const error = await this.text('error');
    check(error !== '', `${button} without ${field} showed no error`);
    return error;
  }

  // The API's name of the state hook `name` shows (its `data-state`).
  async state(name) {
    return (await this.need(name)).getAttribute('data-state');
  }

  // Waits until the picture of hook `name` has loaded and decoded, and
  // answers its size in pixels.
  async picture(name) {
    const img = await this.need(name);
    const size = await img.evaluate(
      (e) =>
        new Promise((resolve) => {
          const done = () => resolve({ width: e.naturalWidth, height: e.naturalHeight });
          if (e.complete) {
            done();
            return;
          }
          e.addEventListener('load', done, { once: true });
          e.addEventListener('error', done, { once: true });
        }),
    );
    check(size.width > 0 && size.height > 0, `the picture [data-test="${name}"] did not load`);
    return size;
  }

  // Waits until the `<audio>` of hook `name` has loaded its media and
  // answers its length in seconds: the recording reached the browser and
  // decodes.
  async audioSecs(name) {
    const audio = await this.need(name);
    const src = await audio.evaluate((e) => e.currentSrc || e.src || e.querySelector('source')?.src || '');
    check(src !== '', `the <audio> [data-test="${name}"] names no media`);
    const secs = await audio.evaluate(
      (e) =>
        new Promise((resolve, reject) => {
          if (e.readyState >= 1) {
            resolve(e.duration);
            return;
          }
          e.addEventListener('loadedmetadata', () => resolve(e.duration), { once: true });
          e.addEventListener('error', () => reject(new Error(`media error ${e.error?.code}`)), { once: true });
          e.preload = 'metadata';
          e.load();
        }),
    );
    check(Number.isFinite(secs) && secs > 0, `the audio preview ${src} has no length (${secs})`);
    return secs;
  }

  // The whole page as a PNG in the artefact directory, as `<name>.png`.
  async shot(name) {
    await this.page.evaluate(() => document.activeElement?.blur());
    await this.page.screenshot({ path: join(this.config.screenshots, `${name}.png`), fullPage: true });
  }

  async close() {
    await this.context.close();
    await rm(this.profile, { recursive: true, force: true });
  }
}

// Runs `scenario(config)`, bounded in time; a failure says what and where
// on standard error and exits 1.
export async function run(scenario) {
  const watchdog = setTimeout(() => {
    process.stderr.write(`FAILED: the scenario took longer than ${SCENARIO_MS / 1000} s\n`);
    process.exit(1);
  }, SCENARIO_MS);
  try {
    await scenario(await settings());
    clearTimeout(watchdog);
  } catch (error) {
    process.stderr.write(`FAILED: ${error.stack ?? error}\n`);
    process.exit(1);
  }
}

// Runs `steps(browser)` in a fresh browser, taking a screenshot of the
// page as it was if a step fails.
export async function inBrowser(config, viewport, name, steps) {
  const browser = await Browser.launch(config, viewport);
  try {
    return await steps(browser);
  } catch (error) {
    await browser.shot(`${name}-failure`).catch(() => {});
    throw error;
  } finally {
    await browser.close();
  }
}
