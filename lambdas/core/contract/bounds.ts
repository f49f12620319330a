import { createHash } from 'node:crypto';

/**
 * Documented limits of the AWS APIs the pipeline writes free text to, and helpers that make a value fit. A call
 * over a limit fails on AWS (emulators are often lenient, so tests would not notice), and a failed
 * `SendTaskFailure` leaves the job waiting for the poll fallback. The helpers cut with a visible marker and
 * never throw: a shortened message is always better than a lost one.
 */

/**
 * `SendTaskFailure` `cause`: "Maximum length of 32768."
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html
 */
export const SFN_TASK_FAILURE_CAUSE_MAX_CHARS = 32_768;
/**
 * `SendTaskFailure` `error`: "Maximum length of 256." (same page as the cause).
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html
 */
export const SFN_TASK_FAILURE_ERROR_MAX_CHARS = 256;
/**
 * `PutEvents`: "The total entry size must be less than 256KB", counted as described in
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html (see {@link eventEntrySize}).
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 */
export const EVENTBRIDGE_ENTRY_MAX_BYTES = 256 * 1024;
/**
 * "The maximum item size in DynamoDB is 400 KB, which includes both attribute name binary length (UTF-8 length)
 * and attribute value lengths (again binary length)."
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
 */
export const DYNAMODB_ITEM_MAX_BYTES = 400 * 1024;
/**
 * "The object key name is a sequence of Unicode characters with UTF-8 encoding of up to 1,024 bytes long."
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
 */
export const S3_KEY_MAX_BYTES = 1024;

/** Appended where text was cut. */
export const TRUNCATION_MARKER = '…[truncated]';
const MARKER_BYTES = Buffer.byteLength(TRUNCATION_MARKER, 'utf8');

/**
 * Cuts `text` to at most `maxChars` UTF-16 code units (JavaScript's `length`; AWS's "characters" are never
 * more than that), ending with `marker`. Never splits a surrogate pair. If even the marker does not fit, the
 * marker itself is cut.
 */
export function truncateChars(text: string, maxChars: number, marker = TRUNCATION_MARKER): string {
  const max = Math.max(0, Math.floor(maxChars));
  if (text.length <= max) return text;
  if (marker.length >= max) return cutChars(marker, max);
  return cutChars(text, max - marker.length) + marker;
}

/**
 * Cuts `text` to at most `maxBytes` bytes of UTF-8, on a code point boundary, ending with `marker`. If even the
 * marker does not fit, the marker itself is cut.
 */
export function truncateUtf8(text: string, maxBytes: number, marker = TRUNCATION_MARKER): string {
  const max = Math.max(0, Math.floor(maxBytes));
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  const markerBytes = Buffer.byteLength(marker, 'utf8');
  if (markerBytes >= max) return cutUtf8(marker, max);
  return cutUtf8(text, max - markerBytes) + marker;
}

/** The `error` and `cause` of a `SendTaskFailure` call, each within its limit. */
export function fitTaskFailure(error: string, cause: string): { error: string; cause: string } {
  return {
    error: truncateChars(error, SFN_TASK_FAILURE_ERROR_MAX_CHARS),
    cause: truncateChars(cause, SFN_TASK_FAILURE_CAUSE_MAX_CHARS),
  };
}

/**
 * A `SendTaskFailure` `cause` in the form Lambda itself uses, `{"errorMessage":"..."}`, within
 * {@link SFN_TASK_FAILURE_CAUSE_MAX_CHARS}. The message is cut, not the JSON, so the fail step can still parse
 * it and read its `[CODE]` prefix; JSON escaping (quotes, control characters) is counted.
 */
export function taskFailureCause(errorMessage: string, maxChars = SFN_TASK_FAILURE_CAUSE_MAX_CHARS): string {
  const whole = JSON.stringify({ errorMessage });
  if (whole.length <= maxChars) return whole;
  // An escaped character takes up to six characters of JSON, so the cut is searched for, not computed.
  const cutAt = (n: number) =>
    JSON.stringify({ errorMessage: cutChars(errorMessage, n) + TRUNCATION_MARKER });
  let lo = 0;
  let hi = Math.min(errorMessage.length, maxChars);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (cutAt(mid).length <= maxChars) lo = mid;
    else hi = mid - 1;
  }
  const cause = cutAt(lo);
  return cause.length <= maxChars ? cause : JSON.stringify({ errorMessage: '' });
}

/**
 * An S3 key for `key` + `suffix` within {@link S3_KEY_MAX_BYTES}. A key that fits comes back unchanged. A longer
 * one keeps its start and its suffix (`.error.json` stays an error file) and gets `~truncated-<hash>` in
 * between, where the hash is of the whole original key: two long keys that share their first kilobyte still
 * get different names, so no job's output overwrites another's.
 */
export function fitS3Key(key: string, suffix = '', maxBytes = S3_KEY_MAX_BYTES): string {
  const whole = key + suffix;
  if (Buffer.byteLength(whole, 'utf8') <= maxBytes) return whole;
  const hash = createHash('sha256').update(whole, 'utf8').digest('hex').slice(0, 16);
  const tail = `~truncated-${hash}${suffix}`;
  return cutUtf8(key, maxBytes - Buffer.byteLength(tail, 'utf8')) + tail;
}

/** A `PutEvents` entry, as far as its size is concerned. */
export interface EventEntryForSize {
  Source?: string | undefined;
  DetailType?: string | undefined;
  Detail?: string | undefined;
  Resources?: readonly string[] | undefined;
  Time?: Date | undefined;
}

/**
 * Size of a `PutEvents` entry as EventBridge counts it: 14 bytes for `Time` if present, plus the UTF-8 bytes of
 * `Source`, `DetailType`, `Detail` and each of `Resources`.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
 */
export function eventEntrySize(entry: EventEntryForSize): number {
  let size = entry.Time === undefined ? 0 : 14;
  for (const text of [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])]) {
    if (text !== undefined) size += Buffer.byteLength(text, 'utf8');
  }
  return size;
}

/**
 * An upper bound of a DynamoDB item's size as DynamoDB counts it (names and values in UTF-8; a number at most
 * 21 bytes; 3 bytes per map or list plus 1 per element; 1 byte for a boolean or null).
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 * Takes the plain JavaScript record (as given to the document client), not the marshalled form.
 */
export function dynamoItemSize(item: Readonly<Record<string, unknown>>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    size += Buffer.byteLength(name, 'utf8') + valueSize(value);
  }
  return size;
}

function valueSize(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number' || typeof value === 'bigint') return 21;
  if (typeof value === 'boolean' || value === null) return 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) return 3 + [...value].reduce((sum: number, v) => sum + 1 + valueSize(v), 0);
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, v) => sum + 1 + valueSize(v), 0);
  if (typeof value === 'object') {
    let size = 3;
    for (const [name, v] of Object.entries(value)) {
      if (v !== undefined) size += 1 + Buffer.byteLength(name, 'utf8') + valueSize(v);
    }
    return size;
  }
  return 0;
}

/** Result of {@link fitRecord}. */
export interface Fitted<T> {
  record: T;
  /** Names of the fields that were shortened. */
  truncated: string[];
  /** False when even emptying every listed field (down to its marker) was not enough. */
  fits: boolean;
}

/**
 * Shortens the listed top-level string fields of `record` (longest first, each ending with the marker) until
 * `size(record) <= maxBytes`. Other fields are never touched. Returns a copy; never throws.
 *
 * For a DynamoDB item: `fitRecord(item, ['message'], DYNAMODB_ITEM_MAX_BYTES, dynamoItemSize)`.
 * For an event detail: `fitRecord(detail, ['message'], EVENTBRIDGE_ENTRY_MAX_BYTES - eventEntrySize({Source,
 * DetailType, Resources, Time}), (d) => Buffer.byteLength(JSON.stringify(d)))`.
 */
export function fitRecord<T extends Record<string, unknown>>(
  record: T,
  fields: readonly (keyof T & string)[],
  maxBytes: number,
  size: (record: T) => number,
): Fitted<T> {
  const copy: Record<string, unknown> = { ...record };
  const truncated = new Set<string>();
  // Each pass cuts at least the overflow from one field; JSON escaping only makes a cut count for more.
  for (let pass = 0; pass <= fields.length + 1; pass++) {
    const overflow = size(copy as T) - maxBytes;
    if (overflow <= 0) return { record: copy as T, truncated: [...truncated], fits: true };
    const longest = fields
      .filter((f) => typeof copy[f] === 'string' && !isMarkerOnly(copy[f] as string))
      .sort((a, b) => Buffer.byteLength(copy[b] as string) - Buffer.byteLength(copy[a] as string))[0];
    if (longest === undefined) break;
    const text = copy[longest] as string;
    const target = Buffer.byteLength(text, 'utf8') - overflow;
    // Too little left to be worth keeping: the marker alone, and the next pass cuts the next field.
    copy[longest] = target >= MARKER_BYTES ? truncateUtf8(text, target) : TRUNCATION_MARKER;
    truncated.add(longest);
  }
  return { record: copy as T, truncated: [...truncated], fits: size(copy as T) <= maxBytes };
}

/** A field this short has nothing left to give. */
function isMarkerOnly(text: string): boolean {
  return Buffer.byteLength(text, 'utf8') <= MARKER_BYTES;
}

/** The longest prefix of `text` of at most `max` code units that does not end in half a surrogate pair. */
function cutChars(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end);
}

/** The longest prefix of `text` of at most `max` UTF-8 bytes, cut between code points. */
function cutUtf8(text: string, max: number): string {
  if (max <= 0) return '';
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > max) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}
