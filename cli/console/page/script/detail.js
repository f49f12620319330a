// One job: its state, error report, timeline, settings, cost and files (the media are media.js's).

import { act } from './actions.js';
import { $, fill, h, stateBadge } from './dom.js';
import { seconds, usd, when } from './format.js';
import { readOnly } from './state.js';

function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

function renderTimeline(d) {
  return h(
    'ol',
    { class: 'timeline', 'aria-label': 'Stages' },
    d.timeline.map((step) =>
      h(
        'li',
        { class: step.stage },
        h('strong', {}, step.stage),
        h('time', { datetime: step.at }, when(step.at)),
        step.tookSeconds !== undefined
          ? h('span', { class: 'took' }, ` +${seconds(step.tookSeconds)}`)
          : null,
      ),
    ),
  );
}

function renderError(error, nextStep) {
  return h(
    'div',
    { class: 'error', role: 'region', 'aria-label': 'Error report' },
    h(
      'h3',
      {},
      error.code === 'CANCELLED' ? 'Cancelled' : 'Failed',
      ` at ${error.stage}: `,
      h('code', {}, error.code),
    ),
    h('p', { class: 'message' }, error.message),
    error.problems?.length
      ? h(
          'div',
          {},
          h('p', {}, `Problems (${error.problems.length}):`),
          h(
            'ul',
            { class: 'problems' },
            error.problems.map((p) => h('li', {}, h('code', {}, p.code), ` (${p.file}): ${p.message}`)),
          ),
        )
      : null,
    error.cancelledBy ? h('p', {}, `Cancelled by ${error.cancelledBy}.`) : null,
    h('p', {}, h('strong', {}, 'How to retry: '), error.howToRetry),
    nextStep ? h('p', { class: 'muted' }, `From the CLI: ${nextStep}`) : null,
  );
}

/** Draws job `d`, keeping the media box (and a playing video) and an action's outcome; `reload` is act's. */
export function renderDetail(d, reload) {
  const settings = d.settings ?? {};
  const outcome = $('job-body').querySelector('.outcome');
  const mediaBox = $('job-body').querySelector('.media-box') ?? h('div', { class: 'media-box' });
  const actions = readOnly
    ? null
    : h(
        'div',
        { class: 'actions' },
        d.canRetry
          ? h('button', { type: 'button', id: 'retry', onclick: () => act('retry', d, reload) }, 'Retry…')
          : null,
        d.canCancel
          ? h(
              'button',
              { type: 'button', id: 'cancel', class: 'danger', onclick: () => act('cancel', d, reload) },
              'Cancel job…',
            )
          : null,
      );
  fill($('job-heading'), d.stem, ' ', stateBadge(d.status, d.statusWords));
  fill(
    $('job-body'),
    actions ?? '',
    outcome ?? '',
    facts([
      ['Job', h('code', {}, d.jobId)],
      ['Attempt', String(d.attempt)],
      [
        'Took',
        d.elapsedSeconds !== undefined
          ? `${seconds(d.elapsedSeconds)}${d.running ? ' so far' : ''}`
          : undefined,
      ],
    ]),
    d.error ? renderError(d.error, d.nextStep) : null,
    mediaBox,
    h('h3', {}, 'Timeline'),
    renderTimeline(d),
    h('h3', {}, 'Settings'),
    facts([
      ['Model', settings.model],
      ['Prompt', settings.prompt ?? '(none)'],
      ['Format', settings.outputFormat],
      ['Quality', settings.outputQuality],
      ['Results', settings.numberResults],
      ['Safety', settings.safety ? JSON.stringify(settings.safety) : undefined],
    ]),
    h('h3', {}, 'Cost'),
    facts([
      ['Cost', usd(d.costUsd)],
      [
        'Estimate',
        d.estimatedCostUsd !== undefined
          ? `${usd(d.estimatedCostUsd)}${d.priceUsdPerSecond ? ` at USD ${d.priceUsdPerSecond}/s` : ''}`
          : undefined,
      ],
      ['Charged after the cancel', d.lateCostUsd !== undefined ? usd(d.lateCostUsd) : undefined],
      ['Video length', d.videoSeconds !== undefined ? seconds(d.videoSeconds) : undefined],
    ]),
    d.outputCheck !== undefined
      ? h(
          'div',
          {},
          h('h3', {}, 'Output check'),
          h('pre', { class: 'outcome' }, JSON.stringify(d.outputCheck, null, 2)),
        )
      : null,
    h('h3', {}, 'Files'),
    facts([
      ['Image', d.inputs.image],
      ['Audio', d.inputs.audio],
      ['Sidecar', d.inputs.sidecar],
      ...d.outputs.map((o, i) => [
        `Video ${d.outputs.length > 1 ? i + 1 : ''}`.trim(),
        `${o.key} (${(o.bytes / 1e6).toFixed(2)} MB)`,
      ]),
      ['Not shown', d.notShown],
    ]),
    d.history.length
      ? h(
          'div',
          {},
          h('h3', {}, 'Earlier attempts'),
          h(
            'ul',
            {},
            d.history.map((a) =>
              h(
                'li',
                {},
                `Attempt ${a.attempt}: ${a.status}${a.errorCode ? ` (${a.errorCode}: ${a.errorMessage})` : ''}`,
              ),
            ),
          ),
        )
      : null,
  );
}
