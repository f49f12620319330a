import { FILE_EXTENSION_OF_FORMAT, type JobSettings } from '../contract/job-settings.js';
import { nameTakenMessage, outputNamesOf, reservationOrder } from '../contract/output-names.js';
import { ValidationError } from '../errors.js';
import type { OutputNameStore } from '../store/output-claims.js';

/**
 * Reserves every output key the job may write (its videos, `<stem>.json`, `<stem>.error.json`) for its stem
 * before anything is paid for, and returns them (the job record keeps them: a reservation lasts until well after
 * the job has ended, and for good once written, so they stay the stem's and deliver need not ask again). Throws OUTPUT_NAME_TAKEN, naming the stem that holds a key, when one is taken.
 */
export async function reserveOutputNames(
  stem: string,
  settings: Pick<JobSettings, 'outputFormat' | 'numberResults'>,
  names: OutputNameStore,
  at: Date,
): Promise<string[]> {
  const wanted = outputNamesOf(stem, FILE_EXTENSION_OF_FORMAT[settings.outputFormat], settings.numberResults);
  const keys = reservationOrder(wanted);
  const outcome = await names.claim(stem, keys, at.toISOString());
  if (!outcome.ok) {
    throw new ValidationError('OUTPUT_NAME_TAKEN', nameTakenMessage(stem, outcome.key, outcome.holder));
  }
  return keys;
}
