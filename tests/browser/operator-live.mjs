// An operator speaks live: picks an area and live speech, types what LED
// boards show meanwhile, sees on the first confirmation how many devices it
// reaches, ticks the second and triggers. The page takes the microphone
// (Chromium's fake one: a beeping tone, granted without asking), encodes it
// to Opus with WebCodecs and streams it over its WebSocket. The operator
// keeps speaking while watching the emergency's status page in a second tab
// until every loudspeaker of `started` has started playing, then stops;
// the page moves on to the status page, which shows the emergency over.
// Prints {"emergency": id, "sent": Opus packets sent, "notices": what the
// hub said on the socket}.

import { check, DESK, emit, hook, inBrowser, run } from './lib.mjs';

// A microphone in a headless browser, and no permission prompt.
const MICROPHONE = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'];
// How long the status page may take to show every loudspeaker playing.
const STARTED_MS = 20_000;
// The operator speaks at least this long.
const SPEAK_MS = 3_000;

// The live socket's traffic: packets sent, notices received (JSON).
function listen(page) {
  const traffic = { sent: 0, notices: [] };
  page.on('websocket', (socket) => {
    socket.on('framesent', (frame) => {
      if (typeof frame.payload !== 'string') {
        traffic.sent += 1;
      }
    });
    socket.on('framereceived', (frame) => {
      traffic.notices.push(JSON.parse(frame.payload));
    });
  });
  return traffic;
}

// Reloads the status page of emergency `id` in `tab` until it lists every
// device of `devices` as started.
async function watchStarted(browser, tab, id, devices) {
  const deadline = Date.now() + STARTED_MS;
  for (;;) {
    await tab.goto(browser.url(`/console/emergencies/${encodeURIComponent(id)}`));
    const missing = [];
    for (const device of devices) {
      if ((await tab.locator(hook(`emergency-device-${device}`)).count()) === 0) {
        missing.push(device);
      }
    }
    if (missing.length === 0) {
      return;
    }
    check(Date.now() < deadline, `after ${STARTED_MS / 1000} s the status page still lacks ${missing.join(', ')}`);
    await tab.waitForTimeout(500);
  }
}

run(async (config) => {
  const { area, title, text, devices, started } = config.live;
  await inBrowser(
    config,
    DESK,
    'operator-live',
    async (browser) => {
      const home = await browser.login('operator');
      check(home === '/console/emergency', `an operator's home is ${home}, not /console/emergency`);
      await (await browser.need(`emergency-target-${area}`)).check();
      await (await browser.need('emergency-mode-live')).check();
      await browser.set('emergency-title', title);
      await browser.set('emergency-text', text);
      await browser.follow('emergency-review');
      const counted = await browser.text('emergency-devices');
      check(counted === String(devices), `the first confirmation counts ${counted} devices, not ${devices}`);

      const traffic = listen(browser.page);
      await (await browser.need('emergency-confirm')).check();
      await browser.page.click(hook('emergency-trigger'));
      const link = browser.page.locator('#live-status a');
      await link.waitFor().catch(async () => {
        const said = await browser.page.locator('#live-status').innerText();
        throw new Error(`the live stream did not start: "${said}", the hub said ${JSON.stringify(traffic.notices)}`);
      });
      const speaking = Date.now();
      const id = decodeURIComponent((await link.getAttribute('href')).split('/').pop());
      await browser.need('emergency-live-stop');

      const tab = await browser.context.newPage();
      await watchStarted(browser, tab, id, started);
      await browser.shot('emergency-live-status', tab);
      await tab.close();
      await browser.shot('emergency-live');
      await browser.page.waitForTimeout(Math.max(0, speaking + SPEAK_MS - Date.now()));
      check(traffic.sent > 0, 'the page sent no audio while the loudspeakers played');

      await Promise.all([
        browser.page.waitForURL((url) => url.pathname.startsWith('/console/emergencies/')),
        browser.page.click(hook('emergency-live-stop')),
      ]);
      const state = await browser.state('emergency-state');
      check(state === 'cancelled', `a live emergency is ${state} once the operator stopped, not over`);
      check((await browser.page.locator(hook('emergency-stop')).count()) === 0, 'an ended live emergency still offers to stop');
      await browser.shot('emergency-live-ended');
      emit({ emergency: id, sent: traffic.sent, notices: traffic.notices });
    },
    MICROPHONE,
  );
});
