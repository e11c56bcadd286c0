// A chair types another commune's address: the console refuses, and the
// answer shows nothing of that commune (its name, its bulletins, its
// controls). Prints {"status": …}.

import { check, DESK, emit, inBrowser, run } from './lib.mjs';

run(async (config) => {
  const { commune, secrets } = config.fenced;
  await inBrowser(config, DESK, 'chair-fenced', async (browser) => {
    const home = await browser.login('other_chair');
    check(home !== `/console/communes/${commune}`, `the other chair's home is ${commune}'s page`);
    const answer = await browser.open(`/console/communes/${commune}`);
    check(
      answer.status() === 403 || answer.status() === 404,
      `another commune's page was answered ${answer.status()}, not 403 or 404`,
    );
    const text = await browser.page.locator('body').innerText();
    const html = await browser.page.content();
    for (const secret of secrets) {
      check(!text.includes(secret) && !html.includes(secret), `the refusal shows "${secret}"`);
    }
    const controls = await browser.page.locator('[data-test^="slot-"], [data-test^="move-"], [data-test^="opt-"]').count();
    check(controls === 0, `the refusal carries ${controls} programme controls`);
    check((await browser.text('error')) !== '', 'the refusal says nothing (no [data-test="error"])');
    await browser.shot('chair-fenced');
    emit({ status: answer.status() });
  });
});
