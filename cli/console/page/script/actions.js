// The job's actions, retry and cancel, each confirmed first in a dialog.

import { api } from './api.js';
import { $, h } from './dom.js';
import { usd } from './format.js';
import { state } from './state.js';

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

/** Asks, then takes the action `kind` on job `d`; `reload` reads the job and the list again after it. */
export async function act(kind, d, reload) {
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
    state.detail = undefined;
    await reload();
  } catch (error) {
    note.className = 'outcome bad';
    note.textContent = error.message;
    for (const b of $('job-body').querySelectorAll('.actions button')) b.disabled = false;
  }
}
