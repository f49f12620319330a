// The console page's script, its entry: the filters, opening and closing a job, and the poll that keeps the page
// live. Plain DOM, no framework; the views are list.js, detail.js and media.js.

import { api } from './api.js';
import { renderDetail } from './detail.js';
import { $, fill, h } from './dom.js';
import { startEstimateForm } from './estimate.js';
import { renderOverview } from './list.js';
import { loadMedia } from './media.js';
import { POLL_MS, readHash, STATES, state, syncFilterControls, writeHash } from './state.js';

// ---- filters
for (const s of STATES) $('f-state').append(h('option', { value: s }, s));
$('filters').addEventListener('submit', (e) => e.preventDefault());
$('f-state').addEventListener('change', () => setFilter('state', $('f-state').value));
$('f-since').addEventListener('change', () => setFilter('since', $('f-since').value));
let prefixTimer;
$('f-prefix').addEventListener('input', () => {
  clearTimeout(prefixTimer);
  prefixTimer = setTimeout(() => setFilter('prefix', $('f-prefix').value.trim()), 250);
});

function setFilter(name, value) {
  state.filters[name] = value;
  writeHash();
  syncFilterControls();
  state.lastVersion = '';
  refresh();
}

// ---- the batch and the list
async function refresh() {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filters)) if (v) params.set(k, v);
  try {
    const o = await api(`/api/overview?${params}`);
    state.overview = o;
    if (o.version !== state.lastVersion) {
      state.lastVersion = o.version;
      renderOverview(o, { openJob, setFilter });
    }
    $('live').textContent = `Live: updated ${new Date(o.generatedAt).toLocaleTimeString()}`;
  } catch (error) {
    $('live').textContent = `Not updated: ${error.message}`;
  }
}

// ---- one job
async function openJob(jobId, focus) {
  state.openJobId = jobId;
  state.mediaKey = '';
  writeHash();
  for (const row of $('jobs').tBodies[0].rows)
    row.setAttribute('aria-current', String(row.dataset.job === jobId));
  $('detail').hidden = false;
  document.querySelector('.panes').classList.add('open');
  fill($('job-body'), h('p', { class: 'muted' }, 'Loading…'));
  await loadDetail();
  if (focus) $('job-heading').focus();
}

/** After an action: the job and the list read again. */
const reload = () => Promise.all([loadDetail(), refresh()]);

async function loadDetail() {
  if (!state.openJobId) return;
  try {
    const d = await api(`/api/jobs/${state.openJobId}`);
    if (d.jobId !== state.openJobId) return;
    const { detail } = state;
    const changed = !detail || detail.jobId !== d.jobId || JSON.stringify(detail) !== JSON.stringify(d);
    state.detail = d;
    if (changed) {
      renderDetail(d, reload);
      await loadMedia(d, false);
    }
  } catch (error) {
    fill($('job-body'), h('p', { class: 'outcome bad' }, error.message));
  }
}

function closeJob() {
  state.openJobId = '';
  state.detail = undefined;
  $('detail').hidden = true;
  document.querySelector('.panes').classList.remove('open');
  writeHash();
  for (const row of $('jobs').tBodies[0].rows) row.removeAttribute('aria-current');
  $('jobs-heading').focus();
}
$('close-job').addEventListener('click', closeJob);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && state.openJobId && !$('confirm').open) closeJob();
});

startEstimateForm();

// ---- start, then keep the page live
readHash();
syncFilterControls();
window.addEventListener('hashchange', () => {
  const before = state.openJobId;
  readHash();
  syncFilterControls();
  state.lastVersion = '';
  refresh();
  if (state.openJobId && state.openJobId !== before) openJob(state.openJobId, false);
  if (!state.openJobId && before) closeJob();
});
await refresh();
if (state.openJobId) await openJob(state.openJobId, false);

async function tick() {
  await refresh();
  const { detail, openJobId, overview } = state;
  if (
    openJobId &&
    (detail?.running || overview?.jobs.some((j) => j.jobId === openJobId && j.status !== detail?.status))
  ) {
    await loadDetail();
  }
  setTimeout(tick, POLL_MS);
}
setTimeout(tick, POLL_MS);
