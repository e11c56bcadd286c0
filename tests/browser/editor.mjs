// An editor composes a bulletin (text, a recording, targets, validity),
// previews its audio and board face, and submits it for review.
// Prints {"bulletin": id, "state": …, "audio_secs": …, "board": {width, height}}.

import { check, composeBulletin, DESK, emit, hook, inBrowser, run } from './lib.mjs';

run(async (config) => {
  const compose = config.compose;
  await inBrowser(config, DESK, 'editor', async (browser) => {
    const home = await browser.login('editor');
    check(home === '/console/bulletins', `an editor's home is ${home}, not /console/bulletins`);

    const id = await composeBulletin(browser, compose, 'compose');
    const audioSecs = await browser.audioSecs('audio-preview');
    const board = await browser.picture('board-preview');
    await browser.shot('detail');

    await browser.follow('bulletin-submit');
    check((await browser.text('flash')) !== '', 'submitting showed no message');
    const state = await browser.state('bulletin-state');
    check(state === 'submitted', `a sensitive bulletin is ${state} once submitted, not awaiting review`);
    check((await browser.page.locator(hook('bulletin-submit')).count()) === 0, 'a submitted bulletin still offers to submit');
    emit({ bulletin: id, state, audio_secs: audioSecs, board });
  });
});
