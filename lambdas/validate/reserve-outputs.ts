import { ValidationError } from '../core/errors.js';
import { nameTakenMessage, outputNamesOf, reservationOrder } from '../core/output-names.js';
import { FILE_EXTENSION_OF_FORMAT, type JobSettings } from '../core/settings.js';
import type { OutputNameStore } from '../core/store/outputs.js';

/**
 * Reserves every output key the job may write (its videos, `<stem>.json`, `<stem>.error.json`) for its stem
 * before anything is paid for. Throws OUTPUT_NAME_TAKEN, naming the stem that holds a key, when one is taken.
 */
export async function reserveOutputNames(
  stem: string,
  settings: Pick<JobSettings, 'outputFormat' | 'numberResults'>,
  names: OutputNameStore,
  at: Date,
): Promise<void> {
  const wanted = outputNamesOf(stem, FILE_EXTENSION_OF_FORMAT[settings.outputFormat], settings.numberResults);
  const outcome = await names.claim(stem, reservationOrder(wanted), at.toISOString());
  if (!outcome.ok) {
    throw new ValidationError('OUTPUT_NAME_TAKEN', nameTakenMessage(stem, outcome.key, outcome.holder));
  }
}
