// What the page is showing: the filters and the open job, kept in the address (after the token) so a reload or
// a shared tab keeps them, and what it last read from the server.

import { $ } from './dom.js';

export const readOnly = document.body.dataset.readOnly === 'true';
export const STATES = [
  'RECEIVED',
  'VALIDATED',
  'QUEUED',
  'SUBMITTED',
  'GENERATED',
  'DELIVERED',
  'FAILED',
  'CANCELLED',
];
export const POLL_MS = 3000;

/** One object, so that every module reads and sets the same values. */
export const state = {
  filters: { state: '', prefix: '', since: '' },
  openJobId: '',
  /** The version of the overview on screen: another one redraws the list. */
  lastVersion: '',
  overview: undefined,
  /** The open job as last read. */
  detail: undefined,
  /** What the media shown were made for (see loadMedia). */
  mediaKey: '',
};

export function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  state.filters.state = params.get('state') ?? '';
  state.filters.prefix = params.get('prefix') ?? '';
  state.filters.since = params.get('since') ?? '';
  state.openJobId = params.get('job') ?? '';
}

export function writeHash() {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filters)) if (v) params.set(k, v);
  if (state.openJobId) params.set('job', state.openJobId);
  history.replaceState(null, '', `${location.pathname}${location.search}#${params}`);
}

export function syncFilterControls() {
  $('f-state').value = state.filters.state;
  $('f-prefix').value = state.filters.prefix;
  $('f-since').value = state.filters.since;
}
