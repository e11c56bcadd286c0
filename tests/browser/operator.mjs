// An operator, phase "trigger": picks an area, types the message, sees on
// the first confirmation what will happen and to how many devices, is
// refused without ticking the second, ticks it and triggers; prints
// {"emergency": id, "state": …, "unconfirmed": the refusal}. Phase "stop":
// the emergency's page shows the devices that started playing; the stop
// button stops it; prints {"stopped": id, "state": …}.

import { check, DESK, emit, hook, inBrowser, run } from './lib.mjs';

async function trigger(browser, config) {
  const { area, title, text, devices } = config.emergency;
  await browser.need('emergency-mode-file');
  await browser.need('emergency-mode-live');
  await browser.shot('emergency');
  await (await browser.need(`emergency-target-${area}`)).check();
  await (await browser.need('emergency-mode-text')).check();
  await browser.set('emergency-title', title);
  await browser.set('emergency-text', text);
  await browser.follow('emergency-review');
  const counted = await browser.text('emergency-devices');
  check(counted === String(devices), `the first confirmation counts ${counted} devices, not ${devices}`);
  await browser.shot('emergency-review');
  const unconfirmed = await browser.refusedEmpty('emergency-confirm', 'emergency-trigger');
  await (await browser.need('emergency-confirm')).check();
  await browser.follow('emergency-trigger');
  const path = new URL(browser.page.url()).pathname;
  const made = path.match(/^\/console\/emergencies\/([^/]+)$/);
  check(made, `triggering led to ${path}, not the emergency's page: ${await browser.text('error')}`);
  const state = await browser.state('emergency-state');
  check(state !== null && state !== '', "the emergency's page shows no state");
  await browser.need('emergency-stop');
  await browser.shot('emergency-status');
  emit({ emergency: decodeURIComponent(made[1]), state, unconfirmed });
}

async function stop(browser, config) {
  const { id, started } = config.emergency;
  await browser.open(`/console/emergencies/${id}`);
  for (const device of started) {
    await browser.need(`emergency-device-${device}`);
  }
  const playing = await browser.state('emergency-state');
  await browser.shot('emergency-playing');
  await browser.set('emergency-stop-reason', 'Đã kiểm soát được tình hình');
  await browser.follow('emergency-stop');
  check((await browser.text('error')) === '', `stopping was refused: ${await browser.text('error')}`);
  const state = await browser.state('emergency-state');
  check(state === 'cancelled', `the emergency is ${state} after stopping (was ${playing})`);
  check((await browser.page.locator(hook('emergency-stop')).count()) === 0, 'a stopped emergency still offers to stop');
  await browser.shot('emergency-stopped');
  emit({ stopped: id, state });
}

run(async (config) => {
  await inBrowser(config, DESK, `operator-${config.phase}`, async (browser) => {
    const home = await browser.login('operator');
    check(home === '/console/emergency', `an operator's home is ${home}, not /console/emergency`);
    if (config.phase === 'trigger') {
      await trigger(browser, config);
    } else {
      await stop(browser, config);
    }
  });
});
