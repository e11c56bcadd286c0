// A commune chair, on a phone. Phase "reorder": today's programme shows the
// two colliding priority bulletins; the chair moves one and the page shows
// the new order. Phase "aired": the page lists both as aired. Phase "opt":
// a normal bulletin offered to the commune is not in today's programme
// until the chair opts it in; one opted in earlier leaves the programme
// when the chair opts it out.
// Prints {"today": [ids], "before": [ids], "after": [ids]}, {"aired": [titles]}
// or {"before": [ids], "after": [ids]}.

import { check, emit, hook, inBrowser, PHONE, run } from './lib.mjs';

// The bulletin ids of today's programme, each once.
async function programme(browser) {
  const rows = await browser.hooksIn('programme-today', 'slot-');
  return rows.map((row) => row.slice('slot-'.length));
}

// The chair's order of the colliding priority bulletins: the ids of the
// move buttons, in page order, each once.
async function order(browser) {
  const buttons = await browser.page
    .locator('[data-test^="move-up-"], [data-test^="move-down-"]')
    .evaluateAll((elements) => elements.map((e) => e.dataset.test));
  const ids = buttons.map((name) => name.replace(/^move-(up|down)-/, ''));
  return ids.filter((id, i) => ids.indexOf(id) === i);
}

// Fails unless the page is no wider than the phone: nothing to scroll sideways.
async function fitsThePhone(browser) {
  const width = await browser.page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= PHONE.width, `the chair's page is ${width} px wide on a ${PHONE.width} px phone`);
}

async function reorder(browser, config) {
  const { move, direction, expected } = config.order;
  const today = await programme(browser);
  for (const id of expected) {
    check(today.includes(id), `today's programme ${JSON.stringify(today)} lacks ${id}`);
  }
  await browser.need('programme-week');
  const before = await order(browser);
  await fitsThePhone(browser);
  await browser.shot('chair-programme');
  await browser.follow(`move-${direction}-${move}`);
  check((await browser.text('flash')) !== '', `moving ${move} ${direction} showed no message`);
  const after = await order(browser);
  check(
    JSON.stringify(after) === JSON.stringify(expected),
    `after moving ${move} ${direction} the order reads ${JSON.stringify(after)}, not ${JSON.stringify(expected)}`,
  );
  check(JSON.stringify(before) !== JSON.stringify(after), `moving ${move} ${direction} changed nothing`);
  await browser.shot('chair-programme-reordered');
  emit({ today, before, after });
}

async function aired(browser, config) {
  const list = await browser.need('aired-list');
  const text = await list.innerText();
  const titles = config.order.titles;
  for (const title of titles) {
    check(text.includes(title), `the aired list does not show "${title}": ${text}`);
  }
  await browser.shot('chair-aired');
  emit({ aired: titles });
}

async function opt(browser, config) {
  const { add, remove } = config.opt;
  const before = await programme(browser);
  check(!before.includes(add), `${add} is in today's programme ${JSON.stringify(before)} before the chair opted it in`);
  check(before.includes(remove), `today's programme ${JSON.stringify(before)} lacks ${remove}, opted in earlier`);
  await browser.need(`opt-in-${add}`);
  await fitsThePhone(browser);
  await browser.shot('chair-offers');

  await browser.follow(`opt-out-${remove}`);
  check((await browser.text('flash')) !== '', `opting ${remove} out showed no message`);
  const without = await programme(browser);
  check(!without.includes(remove), `${remove} is still in today's programme ${JSON.stringify(without)} once opted out`);
  await browser.need(`opt-in-${remove}`);

  await browser.follow(`opt-in-${add}`);
  check((await browser.text('flash')) !== '', `opting ${add} in showed no message`);
  const after = await programme(browser);
  check(after.includes(add), `today's programme ${JSON.stringify(after)} lacks ${add} once opted in`);
  check(!after.includes(remove), `${remove} came back into today's programme ${JSON.stringify(after)}`);
  await browser.need(`opt-out-${add}`);
  await fitsThePhone(browser);
  await browser.shot('chair-opted-in');
  emit({ before, after });
}

const PHASES = { reorder, aired, opt };

run(async (config) => {
  await inBrowser(config, PHONE, `chair-${config.phase}`, async (browser) => {
    const home = await browser.login('chair');
    const expected = `/console/communes/${config.commune}`;
    check(home === expected, `a chair's home is ${home}, not ${expected}`);
    check((await browser.page.locator(hook('logout')).count()) > 0, 'the chair has no way to log out');
    const phase = PHASES[config.phase];
    check(phase, `no chair phase "${config.phase}"`);
    await phase(browser, config);
  });
});
