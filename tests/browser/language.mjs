// The login page switches to English and back to Vietnamese, and the
// choice sticks across pages (a cookie).

import { check, DESK, emit, inBrowser, run } from './lib.mjs';

// The page's language as the console declares it.
async function language(browser) {
  return browser.page.locator('html').getAttribute('lang');
}

run(async (config) => {
  await inBrowser(config, DESK, 'language', async (browser) => {
    await browser.open('/console/login');
    check((await language(browser)) === 'vi', `the login page starts in ${await language(browser)}, not vi`);
    await browser.need('login-username');
    await browser.shot('login');
    const vietnamese = await browser.page.locator('body').innerText();

    await browser.follow('lang-en');
    check(
      new URL(browser.page.url()).pathname === '/console/login',
      `switching to English left the login page for ${browser.page.url()}`,
    );
    check((await language(browser)) === 'en', `after lang-en the page is in ${await language(browser)}`);
    const english = await browser.page.locator('body').innerText();
    check(english !== vietnamese, 'the English login page reads exactly like the Vietnamese one');
    await browser.shot('login-en');
    await browser.open('/console/login');
    check((await language(browser)) === 'en', 'the English choice did not stick to the next page');

    await browser.follow('lang-vi');
    check((await language(browser)) === 'vi', `after lang-vi the page is in ${await language(browser)}`);
    check(
      (await browser.page.locator('body').innerText()) === vietnamese,
      'back in Vietnamese, the login page differs from the first one',
    );
    emit({ scenario: 'language', english: english.slice(0, 80) });
  });
});
