// A reviewer finds the bulletin in the queue and listens to it; rejecting
// it without a reason is refused with an error and leaves it queued; a POST
// without the form's CSRF token is refused; then the reviewer approves it.
// Prints {"approved": id, "state": …, "csrf_status": …}.

import { check, DESK, emit, hook, inBrowser, run } from './lib.mjs';

run(async (config) => {
  const id = config.bulletin;
  const item = `review-item-${id}`;
  await inBrowser(config, DESK, 'reviewer', async (browser) => {
    const home = await browser.login('reviewer');
    check(home === '/console/review', `a reviewer's home is ${home}, not /console/review`);
    await browser.need(item);
    await browser.shot('review-queue');
    await browser.follow(item);
    check(
      new URL(browser.page.url()).pathname === `/console/bulletins/${id}`,
      `the queue's item led to ${browser.page.url()}`,
    );
    await browser.audioSecs('audio-preview');
    const submitted = await browser.state('bulletin-state');
    check(submitted === 'submitted', `the queued bulletin is ${submitted}`);

    await browser.set('reject-reason', '');
    const error = await browser.refusedEmpty('reject-reason', 'reject');
    await browser.open(`/console/bulletins/${id}`);
    check(
      (await browser.state('bulletin-state')) === submitted,
      `rejecting without a reason changed the state to ${await browser.state('bulletin-state')}`,
    );
    await browser.open('/console/review');
    await browser.need(item);

    // From the console's own page, with the session cookie, but without the
    // form's token: refused.
    const forged = await browser.page.evaluate(async (path) => {
      const answer = await fetch(path, {
        method: 'POST',
        body: new URLSearchParams({ reason: 'giả mạo' }),
      });
      return answer.status;
    }, `/console/bulletins/${id}/approve`);
    check(forged === 403, `a POST without the CSRF token was answered ${forged}, not 403`);
    await browser.open('/console/review');
    await browser.need(item);

    await browser.follow(item);
    await browser.follow('approve');
    check((await browser.text('flash')) !== '', 'approving showed no message');
    await browser.open('/console/review');
    check((await browser.page.locator(hook(item)).count()) === 0, 'the approved bulletin is still in the queue');
    await browser.open(`/console/bulletins/${id}`);
    const state = await browser.state('bulletin-state');
    check(state === 'approved' || state === 'scheduled', `the bulletin is ${state} after approving`);
    emit({ approved: id, rejected_without_reason: error, state, csrf_status: forged });
  });
});
