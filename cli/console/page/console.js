// The console page's script: plain DOM, no framework. Everything the server sends is put in the page as text
// (textContent, attributes), never as markup, so a stem or a message cannot inject anything.

const token = new URL(location.href).searchParams.get('token') ?? '';
const readOnly = document.body.dataset.readOnly === 'true';
const STATES = [
  'RECEIVED',
  'VALIDATED',
  'QUEUED',
  'SUBMITTED',
  'GENERATED',
  'DELIVERED',
  'FAILED',
  'CANCELLED',
];
const POLL_MS = 3000;

const $ = (id) => document.getElementById(id);

/** An element with attributes (`on*` functions become listeners) and children (strings become text). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === false || value === null) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    // Through the CSSOM: the page's policy refuses style attributes.
    else if (name === 'style') Object.assign(el.style, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  return fill(el, ...children);
}

/** Replaces the element's children: nested arrays are flattened, and nothing is made of null or false. */
function fill(el, ...children) {
  el.replaceChildren(
    ...children
      .flat(Number.POSITIVE_INFINITY)
      .filter((child) => child !== undefined && child !== null && child !== false)
      .map((child) => (child instanceof Node ? child : document.createTextNode(String(child)))),
  );
  return el;
}

async function api(path, init = {}) {
  const response = await fetch(path, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
    cache: 'no-store',
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  return body;
}

const usd = (n) => (n === undefined || n === null ? '–' : `USD ${n.toFixed(n < 1 ? 4 : 2)}`);
const seconds = (s) => {
  if (s === undefined || s === null) return '–';
  if (s < 60) return `${s.toFixed(1)} s`;
  const r = Math.round(s);
  if (r < 3600) return `${Math.floor(r / 60)} min ${String(r % 60).padStart(2, '0')} s`;
  return `${Math.floor(r / 3600)} h ${String(Math.floor((r % 3600) / 60)).padStart(2, '0')} min`;
};
const when = (iso) => {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};
/** The same time, its year and seconds left out where the screen is narrow. */
const whenShort = (iso) => {
  const full = when(iso);
  return [
    h('span', { class: 'wide' }, full.slice(0, 5)),
    full.slice(5, 16),
    h('span', { class: 'wide' }, full.slice(16)),
  ];
};
const stateBadge = (status, words) => h('span', { class: `state ${status}` }, words ?? status);

// ---- filters, kept in the address (after the token) so a reload or a shared tab keeps them
const filters = { state: '', prefix: '', since: '' };
let openJobId = '';

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  filters.state = params.get('state') ?? '';
  filters.prefix = params.get('prefix') ?? '';
  filters.since = params.get('since') ?? '';
  openJobId = params.get('job') ?? '';
}

function writeHash() {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) params.set(k, v);
  if (openJobId) params.set('job', openJobId);
  history.replaceState(null, '', `${location.pathname}${location.search}#${params}`);
}

function syncFilterControls() {
  $('f-state').value = filters.state;
  $('f-prefix').value = filters.prefix;
  $('f-since').value = filters.since;
}

for (const state of STATES) $('f-state').append(h('option', { value: state }, state));
$('filters').addEventListener('submit', (e) => e.preventDefault());
$('f-state').addEventListener('change', () => setFilter('state', $('f-state').value));
$('f-since').addEventListener('change', () => setFilter('since', $('f-since').value));
let prefixTimer;
$('f-prefix').addEventListener('input', () => {
  clearTimeout(prefixTimer);
  prefixTimer = setTimeout(() => setFilter('prefix', $('f-prefix').value.trim()), 250);
});

function setFilter(name, value) {
  filters[name] = value;
  writeHash();
  syncFilterControls();
  lastVersion = '';
  refresh();
}

// ---- the batch at a glance and the list
let lastVersion = '';
let overview;

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

function renderOverview(o) {
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
    ...STATES.map((state) =>
      h(
        'button',
        {
          type: 'button',
          'aria-pressed': String(filters.state === state),
          'data-state': state,
          onclick: () => setFilter('state', filters.state === state ? '' : state),
        },
        `${state} `,
        h('b', {}, String(o.counts[state] ?? 0)),
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
        { 'aria-current': job.jobId === openJobId ? 'true' : undefined, 'data-job': job.jobId },
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

async function refresh() {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) params.set(k, v);
  try {
    const o = await api(`/api/overview?${params}`);
    overview = o;
    if (o.version !== lastVersion) {
      lastVersion = o.version;
      renderOverview(o);
    }
    $('live').textContent = `Live: updated ${new Date(o.generatedAt).toLocaleTimeString()}`;
  } catch (error) {
    $('live').textContent = `Not updated: ${error.message}`;
  }
}

// ---- one job
let detail;
let mediaKey = '';

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

function renderDetail(d) {
  const settings = d.settings ?? {};
  const outcome = $('job-body').querySelector('.outcome');
  const mediaBox = $('job-body').querySelector('.media-box') ?? h('div', { class: 'media-box' });
  const actions = readOnly
    ? null
    : h(
        'div',
        { class: 'actions' },
        d.canRetry
          ? h('button', { type: 'button', id: 'retry', onclick: () => act('retry', d) }, 'Retry…')
          : null,
        d.canCancel
          ? h(
              'button',
              { type: 'button', id: 'cancel', class: 'danger', onclick: () => act('cancel', d) },
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

function renderMedia(m) {
  const box = $('job-body').querySelector('.media-box');
  if (!box) return;
  const onError = () => {
    // A link expired (or the file changed): ask for fresh ones once.
    mediaKey = '';
    loadMedia(detail, true);
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

async function loadMedia(d, force) {
  // New links only when what there is to show changed: redrawing a playing video would stop it.
  const key = `${d.jobId}|${d.attempt}|${d.outputs.length}|${d.status}`;
  if (!force && key === mediaKey) return;
  mediaKey = key;
  try {
    renderMedia(await api(`/api/jobs/${d.jobId}/media`));
  } catch (error) {
    const box = $('job-body').querySelector('.media-box');
    if (box) fill(box, h('p', { class: 'notes' }, `Files not shown: ${error.message}`));
  }
}

async function openJob(jobId, focus) {
  openJobId = jobId;
  mediaKey = '';
  writeHash();
  for (const row of $('jobs').tBodies[0].rows)
    row.setAttribute('aria-current', String(row.dataset.job === jobId));
  $('detail').hidden = false;
  document.querySelector('.panes').classList.add('open');
  fill($('job-body'), h('p', { class: 'muted' }, 'Loading…'));
  await loadDetail();
  if (focus) $('job-heading').focus();
}

async function loadDetail() {
  if (!openJobId) return;
  try {
    const d = await api(`/api/jobs/${openJobId}`);
    if (d.jobId !== openJobId) return;
    const changed = !detail || detail.jobId !== d.jobId || JSON.stringify(detail) !== JSON.stringify(d);
    detail = d;
    if (changed) {
      renderDetail(d);
      await loadMedia(d, false);
    }
  } catch (error) {
    fill($('job-body'), h('p', { class: 'outcome bad' }, error.message));
  }
}

function closeJob() {
  openJobId = '';
  detail = undefined;
  $('detail').hidden = true;
  document.querySelector('.panes').classList.remove('open');
  writeHash();
  for (const row of $('jobs').tBodies[0].rows) row.removeAttribute('aria-current');
  $('jobs-heading').focus();
}
$('close-job').addEventListener('click', closeJob);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && openJobId && !$('confirm').open) closeJob();
});

// ---- actions, each confirmed first
function confirmAction(title, text, verb) {
  const dialog = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = verb;
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.close();
      $('confirm-ok').onclick = null;
      $('confirm-no').onclick = null;
      resolve(answer);
    };
    $('confirm-ok').onclick = () => done(true);
    $('confirm-no').onclick = () => done(false);
    dialog.onclose = () => resolve(false);
    dialog.showModal();
    $('confirm-no').focus();
  });
}

async function act(kind, d) {
  const ok =
    kind === 'retry'
      ? await confirmAction(
          `Retry ${d.stem}?`,
          `This starts attempt ${d.attempt + 1} with the same inputs. Runware will be asked again, and a new video is charged (estimate ${usd(d.estimatedCostUsd)}).`,
          'Retry',
        )
      : await confirmAction(
          `Cancel ${d.stem}?`,
          `The job stops and gives its Runware slot back. A task Runware already accepted cannot be recalled: its charge may still come.`,
          'Cancel the job',
        );
  if (!ok) return;
  for (const b of $('job-body').querySelectorAll('.actions button')) b.disabled = true;
  const note = h(
    'p',
    { class: 'outcome', role: 'status' },
    kind === 'retry' ? 'Starting a new attempt…' : 'Cancelling…',
  );
  $('job-body').querySelector('.outcome')?.remove();
  $('job-body').querySelector('.actions')?.after(note);
  try {
    const answer = await api(`/api/jobs/${d.jobId}/${kind}`, { method: 'POST' });
    note.textContent = answer.message;
    detail = undefined;
    await Promise.all([loadDetail(), refresh()]);
  } catch (error) {
    note.className = 'outcome bad';
    note.textContent = error.message;
    for (const b of $('job-body').querySelectorAll('.actions button')) b.disabled = false;
  }
}

// ---- estimate
$('estimate-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const file = $('e-audio').files?.[0];
  const out = $('estimate-out');
  if (!file) {
    out.textContent = 'Choose a voice track first.';
    return;
  }
  const ext = file.name.includes('.') ? file.name.slice(file.name.lastIndexOf('.') + 1) : '';
  const params = new URLSearchParams({
    ext,
    results: $('e-results').value || '1',
    model: $('e-model').value,
  });
  out.textContent = 'Measuring…';
  try {
    const r = await api(`/api/estimate?${params}`, {
      method: 'POST',
      body: file,
      headers: { 'content-type': 'application/octet-stream' },
    });
    out.textContent = `${r.audioSeconds.toFixed(2)} s of audio × USD ${r.usdPerSecond}/s (${r.model}) × ${r.numberResults} result(s) = ${usd(r.estimatedUsd)}. Prices: ${r.priceTable}.`;
  } catch (error) {
    out.textContent = `No estimate: ${error.message}`;
  }
});

// ---- start, then keep the page live
readHash();
syncFilterControls();
window.addEventListener('hashchange', () => {
  const before = openJobId;
  readHash();
  syncFilterControls();
  lastVersion = '';
  refresh();
  if (openJobId && openJobId !== before) openJob(openJobId, false);
  if (!openJobId && before) closeJob();
});
await refresh();
if (openJobId) await openJob(openJobId, false);

async function tick() {
  await refresh();
  if (
    openJobId &&
    (detail?.running || overview?.jobs.some((j) => j.jobId === openJobId && j.status !== detail?.status))
  ) {
    await loadDetail();
  }
  setTimeout(tick, POLL_MS);
}
setTimeout(tick, POLL_MS);
