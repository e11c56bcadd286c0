// An administrator watches the fleet's health: the area tree, each commune
// with its alarm flag, each device online or not; then asks for a report
// and downloads its CSV. Prints {"online": [ids], "alarms": {code: bool}}.

import { check, DESK, emit, hook, inBrowser, run } from './lib.mjs';

async function health(browser, config) {
  const tree = await browser.need('health-tree');
  const online = [];
  for (const device of config.devices) {
    const row = tree.locator(hook(`health-device-${device}`));
    check((await row.count()) > 0, `the health tree does not show ${device}`);
    const flag = await row.first().getAttribute('data-online');
    check(flag === 'true' || flag === 'false', `${device}'s data-online is ${flag}`);
    if (flag === 'true') {
      online.push(device);
    }
  }
  const alarms = {};
  for (const commune of config.communes) {
    const row = tree.locator(hook(`health-commune-${commune}`));
    check((await row.count()) > 0, `the health tree does not show commune ${commune}`);
    const alarm = await row.first().getAttribute('data-alarm');
    check(alarm === 'true' || alarm === 'false', `commune ${commune}'s data-alarm is ${alarm}`);
    alarms[commune] = alarm === 'true';
  }
  await browser.shot('health');
  return { online, alarms };
}

async function report(browser, config) {
  await browser.open('/console/reports');
  await browser.set('report-from', config.report.from);
  await browser.set('report-to', config.report.to);
  await browser.set('report-area', config.report.area);
  await browser.shot('reports');
  await browser.follow('report-show');
  const csv = await browser.need('report-csv');
  const href = await csv.getAttribute('href');
  check(href, 'the CSV link has no address');
  const download = await browser.page.request.get(new URL(href, browser.page.url()).href);
  check(download.ok(), `the CSV download was answered ${download.status()}`);
  const type = download.headers()['content-type'] ?? '';
  check(type.startsWith('text/csv'), `the CSV download is ${type}`);
  const lines = (await download.text()).trim().split('\n');
  check(lines.length >= 1 && lines[0].includes(','), `the CSV has no header row: ${lines[0]}`);
  await browser.shot('report');
  return lines.length;
}

run(async (config) => {
  await inBrowser(config, DESK, 'administrator', async (browser) => {
    const home = await browser.login('admin');
    check(home === '/console/health', `an administrator's home is ${home}, not /console/health`);
    const seen = await health(browser, config);
    const csvLines = await report(browser, config);
    emit({ ...seen, csv_lines: csvLines });
  });
});
