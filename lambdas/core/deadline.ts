/**
 * The message of a job stopped at its hard deadline. What to do depends on why it ran out of time, so the
 * advice does too: raising `hardDeadlineSeconds` only helps a task that was still making progress.
 */
export type DeadlineCause =
  /** Submitted, and neither a webhook nor polling (`getResponse`) ever saw the task finish. */
  | { kind: 'not-finished'; taskUUID: string; minutes: number; received: number; expected: number }
  /** Never submitted: the job waited for a free Runware slot the whole time. */
  | { kind: 'queued'; minutes: number };

const RETRY = 'Retry it by uploading one of its files again.';

export function deadlineMessage(cause: DeadlineCause): string {
  if (cause.kind === 'queued') {
    return (
      `The job waited ${cause.minutes} minutes for a free Runware slot and was never sent: other jobs held every ` +
      `slot. Nothing was paid for. ${RETRY} If jobs often wait this long, allow more tasks in flight; a longer ` +
      'hardDeadlineSeconds would only make them wait longer.'
    );
  }
  const stopped = `The job was stopped after ${cause.minutes} minutes so that it does not wait forever.`;
  if (cause.received > 0) {
    return (
      `Runware delivered ${cause.received} of ${cause.expected} results of task ${cause.taskUUID}; the rest never ` +
      `came, by webhook or when asked. ${stopped} ${RETRY} If Runware reports the task as still running, its ` +
      'videos are slow to make: raise hardDeadlineSeconds for jobs with several long results.'
    );
  }
  return (
    `Runware never reported task ${cause.taskUUID} as finished: no webhook came, and polling (getResponse) found ` +
    `no result. ${stopped} ${RETRY} Look the task up in Runware's dashboard: if it is still running there, the ` +
    'video takes longer than the deadline allows (raise hardDeadlineSeconds); if Runware does not know it, the ' +
    'task was lost on their side and retrying is all it takes.'
  );
}
