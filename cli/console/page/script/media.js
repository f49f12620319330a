// The open job's videos, portrait and voice track, through presigned links that expire.

import { api } from './api.js';
import { $, fill, h } from './dom.js';
import { state } from './state.js';

function renderMedia(m) {
  const { detail } = state;
  const box = $('job-body').querySelector('.media-box');
  if (!box) return;
  const onError = () => {
    // A link expired (or the file changed): ask for fresh ones once.
    state.mediaKey = '';
    loadMedia(state.detail, true);
  };
  fill(
    box,
    m.videos.length ? h('h3', {}, m.videos.length > 1 ? 'Videos' : 'Video') : null,
    m.videos.map((v, i) =>
      h(
        'figure',
        {},
        h('video', {
          controls: true,
          preload: 'metadata',
          playsinline: true,
          src: v.url,
          'aria-label': `Video ${i + 1} of ${detail.stem}`,
          onerror: onError,
        }),
        h('figcaption', {}, v.key),
      ),
    ),
    h('h3', {}, 'Inputs'),
    h(
      'div',
      { class: 'media' },
      m.image
        ? h(
            'figure',
            {},
            h('img', {
              src: m.image.url,
              alt: `Portrait of ${detail.stem}`,
              loading: 'lazy',
              onerror: onError,
            }),
            h('figcaption', {}, m.image.normalized ? 'the copy made for Runware' : m.image.key),
          )
        : h('p', { class: 'muted' }, 'No image to show.'),
      m.audio
        ? h(
            'figure',
            {},
            h('audio', {
              controls: true,
              preload: 'metadata',
              src: m.audio.url,
              'aria-label': `Voice track of ${detail.stem}`,
              onerror: onError,
            }),
            h('figcaption', {}, m.audio.key),
          )
        : h('p', { class: 'muted' }, 'No audio to play.'),
    ),
    m.notes.length
      ? h(
          'ul',
          { class: 'notes' },
          m.notes.map((n) => h('li', {}, n)),
        )
      : null,
  );
}

export async function loadMedia(d, force) {
  // New links only when what there is to show changed: redrawing a playing video would stop it.
  const key = `${d.jobId}|${d.attempt}|${d.outputs.length}|${d.status}`;
  if (!force && key === state.mediaKey) return;
  state.mediaKey = key;
  try {
    renderMedia(await api(`/api/jobs/${d.jobId}/media`));
  } catch (error) {
    const box = $('job-body').querySelector('.media-box');
    if (box) fill(box, h('p', { class: 'notes' }, `Files not shown: ${error.message}`));
  }
}
