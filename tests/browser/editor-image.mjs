// An editor composes a bulletin for boards with a picture (and its text as
// the caption and the speech), sees the picture in the board preview at the
// boards' resolution, and submits it; not sensitive, it is approved at once.
// Prints {"bulletin": id, "state": …, "board": {width, height}, "red": the
// preview's pixels of the picture's red}.

import { check, composeBulletin, DESK, emit, hook, inBrowser, run } from './lib.mjs';

// Pixels of the picture `img` (loaded, same origin) that are plainly red.
function redPixels(img) {
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0);
  const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
  let red = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] > 200 && data[i + 1] < 60 && data[i + 2] < 60) {
      red += 1;
    }
  }
  return red;
}

run(async (config) => {
  const compose = config.compose;
  await inBrowser(config, DESK, 'editor-image', async (browser) => {
    const home = await browser.login('editor');
    check(home === '/console/bulletins', `an editor's home is ${home}, not /console/bulletins`);

    const id = await composeBulletin(browser, compose, 'compose-image');
    const board = await browser.picture('board-preview');
    const wanted = config.board;
    check(
      board.width === wanted.width && board.height === wanted.height,
      `the board preview is ${board.width}×${board.height}, not the boards' ${wanted.width}×${wanted.height}`,
    );
    const red = await (await browser.need('board-preview')).evaluate(redPixels);
    await browser.shot('detail-image');

    await browser.follow('bulletin-submit');
    check((await browser.text('flash')) !== '', 'submitting showed no message');
    const state = await browser.state('bulletin-state');
    check(
      state === 'approved' || state === 'scheduled' || state === 'airing',
      `a bulletin needing no review is ${state} once submitted`,
    );
    check((await browser.page.locator(hook('bulletin-submit')).count()) === 0, 'a submitted bulletin still offers to submit');
    emit({ bulletin: id, state, board, red });
  });
});
