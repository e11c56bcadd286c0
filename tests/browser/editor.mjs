// An editor composes a bulletin (text, a recording, targets, validity),
// previews its audio and board face, and submits it for review.
// Prints {"bulletin": id, "state": …, "audio_secs": …, "board": {width, height}}.

import { check, DESK, emit, hook, inBrowser, run } from './lib.mjs';

run(async (config) => {
  const compose = config.compose;
  await inBrowser(config, DESK, 'editor', async (browser) => {
    const home = await browser.login('editor');
    check(home === '/console/bulletins', `an editor's home is ${home}, not /console/bulletins`);

    await browser.open('/console/bulletins/new');
    await browser.set('bulletin-title', compose.title);
    await browser.set('bulletin-text', compose.text);
    await (await browser.need('bulletin-audio')).setInputFiles(compose.audio);
    await browser.set('bulletin-category', compose.category);
    await browser.set('bulletin-level', compose.level);
    await browser.set('bulletin-priority', compose.priority);
    await browser.set('bulletin-language', compose.language);
    await (await browser.need(`target-${compose.target}`)).check();
    await browser.set('bulletin-valid-from', compose.valid_from);
    await browser.set('bulletin-valid-until', compose.valid_until);
    await browser.need('bulletin-recurrence');
    await browser.shot('compose');
    await browser.follow('bulletin-create');

    const path = new URL(browser.page.url()).pathname;
    const created = path.match(/^\/console\/bulletins\/([^/]+)$/);
    check(created, `creating the bulletin led to ${path}, not its page: ${await browser.text('error')}`);
    const id = decodeURIComponent(created[1]);
    const draft = await browser.state('bulletin-state');
    check(draft === 'draft', `the new bulletin is ${draft}, not a draft`);
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
