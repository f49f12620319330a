// The batch at a glance (counts per state, spend, slots) and the list of jobs.

import { $, fill, h, stateBadge, whenShort } from './dom.js';
import { seconds, usd } from './format.js';
import { STATES, state } from './state.js';

function meter(used, limit) {
  if (!limit) return null;
  const share = Math.min(1, used / limit);
  return h(
    'div',
    { class: 'meter', role: 'img', 'aria-label': `${Math.round(share * 100)} % of the limit` },
    h('span', { class: share >= 0.8 ? 'high' : '', style: { width: `${(share * 100).toFixed(1)}%` } }),
  );
}

function spendCard(title, period) {
  const used = period.spentUsd + period.reservedUsd;
  const limit = period.limitUsd
    ? `of ${usd(period.limitUsd)} budget (${usd(Math.max(0, period.limitUsd - used))} left)`
    : period.limitUsd === 0
      ? 'no budget limit'
      : 'budget limit not published by the stack';
  return h(
    'div',
    {},
    h('dt', {}, `${title} (${period.period}, UTC)`),
    h(
      'dd',
      {},
      usd(period.spentUsd),
      h('small', {}, `${usd(period.reservedUsd)} reserved by running jobs; ${limit}`),
      meter(used, period.limitUsd),
    ),
  );
}

/** Draws an overview; a state chip calls `setFilter`, a stem `openJob`. */
export function renderOverview(o, { openJob, setFilter }) {
  const { filters } = state;
  $('target').textContent = o.target;
  const counts = $('counts');
  fill(
    counts,
    h(
      'button',
      { type: 'button', 'aria-pressed': String(!filters.state), onclick: () => setFilter('state', '') },
      'All ',
      h('b', {}, String(o.total)),
    ),
    ...STATES.map((s) =>
      h(
        'button',
        {
          type: 'button',
          'aria-pressed': String(filters.state === s),
          'data-state': s,
          onclick: () => setFilter('state', filters.state === s ? '' : s),
        },
        `${s} `,
        h('b', {}, String(o.counts[s] ?? 0)),
      ),
    ),
  );
  const slots = o.slots.max ? `${o.slots.inUse} of ${o.slots.max}` : String(o.slots.inUse);
  fill(
    $('cards'),
    spendCard('Cost today', o.spend.today),
    spendCard('Cost this month', o.spend.month),
    h(
      'div',
      {},
      h('dt', {}, 'Runware slots in use'),
      h('dd', {}, slots, h('small', {}, `${o.slots.queued} job(s) queued for a slot`)),
      meter(o.slots.inUse, o.slots.max),
    ),
  );
  $('shown').textContent =
    `(${o.jobs.length}${o.truncated ? '+' : ''} shown${o.complete ? '' : '; the table scan stopped at its limit'})`;
  const body = $('jobs').tBodies[0];
  fill(
    body,
    ...o.jobs.map((job) =>
      h(
        'tr',
        { 'aria-current': job.jobId === state.openJobId ? 'true' : undefined, 'data-job': job.jobId },
        h('td', {}, h('time', { datetime: job.createdAt }, whenShort(job.createdAt))),
        h(
          'td',
          { class: 'stem' },
          h(
            'a',
            {
              href: `#job=${job.jobId}`,
              onclick: (e) => {
                e.preventDefault();
                openJob(job.jobId, true);
              },
            },
            job.stem,
          ),
          job.attempt > 1 ? h('span', { class: 'muted' }, ` (attempt ${job.attempt})`) : null,
        ),
        h(
          'td',
          {},
          stateBadge(job.status, job.statusWords),
          job.errorCode ? h('span', { class: 'muted wide' }, ` ${job.errorCode}`) : null,
        ),
        h('td', { class: 'num wide' }, seconds(job.videoSeconds)),
        h('td', { class: 'num wide' }, usd(job.estimatedCostUsd)),
        h('td', { class: 'num' }, usd(job.costUsd)),
      ),
    ),
  );
  $('empty').hidden = o.jobs.length > 0;
}
