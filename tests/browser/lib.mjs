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
// scenario ends; `flags` are Chromium switches a scenario needs beyond the
// usual ones (a fake microphone).
export class Browser {
  static async launch(config, viewport = DESK, flags = []) {
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
        ...flags,
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

  // The whole page (this tab's, or `page`) as a PNG in the artefact
  // directory, as `<name>.png`.
  async shot(name, page = this.page) {
    await page.evaluate(() => document.activeElement?.blur());
    await page.screenshot({ path: join(this.config.screenshots, `${name}.png`), fullPage: true });
  }

  async close() {
    await this.context.close();
    await rm(this.profile, { recursive: true, force: true });
  }
}

// An editor's bulletin through the compose form: `compose` has the title,
// text, category, level, priority, language, one target area code, the
// validity as `datetime-local` values; optional: the paths of a recording
// (`audio`) and of a picture for boards (`image`), and how many seconds
// boards show it (`board_secs`). The form is
// screenshot as `shot` before it is sent; answers the new draft's id, or
// fails with the error the console showed.
export async function composeBulletin(browser, compose, shot) {
  await browser.open('/console/bulletins/new');
  await browser.set('bulletin-title', compose.title);
  await browser.set('bulletin-text', compose.text);
  if (compose.audio) {
    await (await browser.need('bulletin-audio')).setInputFiles(compose.audio);
  }
  if (compose.image) {
    await (await browser.need('bulletin-image')).setInputFiles(compose.image);
  }
  await browser.set('bulletin-category', compose.category);
  await browser.set('bulletin-level', compose.level);
  await browser.set('bulletin-priority', compose.priority);
  await browser.set('bulletin-language', compose.language);
  await (await browser.need(`target-${compose.target}`)).check();
  await browser.set('bulletin-valid-from', compose.valid_from);
  await browser.set('bulletin-valid-until', compose.valid_until);
  if (compose.board_secs) {
    await browser.set('bulletin-board-secs', String(compose.board_secs));
  }
  await browser.need('bulletin-recurrence');
  await browser.shot(shot);
  await browser.follow('bulletin-create');
  const path = new URL(browser.page.url()).pathname;
  const created = path.match(/^\/console\/bulletins\/([^/]+)$/);
  check(created, `creating the bulletin led to ${path}, not its page: ${await browser.text('error')}`);
  const draft = await browser.state('bulletin-state');
  check(draft === 'draft', `the new bulletin is ${draft}, not a draft`);
  return decodeURIComponent(created[1]);
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

// Runs `steps(browser)` in a fresh browser (with Chromium switches
// `flags`), taking a screenshot of the page as it was if a step fails.
export async function inBrowser(config, viewport, name, steps, flags = []) {
  const browser = await Browser.launch(config, viewport, flags);
  try {
    return await steps(browser);
  } catch (error) {
    await browser.shot(`${name}-failure`).catch(() => {});
    throw error;
  } finally {
    await browser.close();
  }
}
