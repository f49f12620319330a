import type { FileTypeResult } from 'file-type';
/**
 * Numbers in refusal messages. A message compares a measured value with a limit, so it must never print the value
 * rounded onto or across the limit ("lasts 2.00 s; the model accepts 2 to 300 s"). The decisions themselves are
 * always taken on the exact values; these helpers only choose how many decimals to print.
 */

/**
 * `value` (which lies beyond `limit`: above a maximum or below a minimum) with the fewest decimals, at least
 * `minDecimals`, that still print it on its side of the limit. Past `maxDecimals` it is rounded away from the
 * limit (up above a maximum, down below a minimum), which is never on the wrong side.
 * @param keepZeros - keep trailing zeros ("1.00") instead of trimming them ("1").
 */
export function formatBeyond(
  value: number,
  limit: number,
  { minDecimals = 0, maxDecimals = 6, keepZeros = false } = {},
): string {
  const above = value > limit;
  for (let decimals = minDecimals; decimals <= maxDecimals; decimals++) {
    const text = value.toFixed(decimals);
    const shown = Number(text);
    if (above ? shown > limit : shown < limit) return keepZeros ? text : String(shown);
  }
  const factor = 10 ** maxDecimals;
  const directed = (above ? Math.ceil(value * factor) : Math.floor(value * factor)) / factor;
  return keepZeros ? directed.toFixed(maxDecimals) : String(directed);
}

/**
 * Two measured values that differ (`value` beyond `reference`), printed with the same number of decimals, at least
 * `minDecimals`, and as many more as it takes for them not to read the same ("promises 3.00 s but holds 2.996 s").
 */
export function formatPair(
  value: number,
  reference: number,
  { minDecimals = 2, maxDecimals = 6 } = {},
): [string, string] {
  const above = value > reference;
  for (let decimals = minDecimals; decimals <= maxDecimals; decimals++) {
    const [v, r] = [value.toFixed(decimals), reference.toFixed(decimals)];
    if (above ? Number(v) > Number(r) : Number(v) < Number(r)) return [v, r];
  }
  const factor = 10 ** maxDecimals;
  const directed = (above ? Math.ceil(value * factor) : Math.floor(value * factor)) / factor;
  const anchored = (above ? Math.floor(reference * factor) : Math.ceil(reference * factor)) / factor;
  return [directed.toFixed(maxDecimals), anchored.toFixed(maxDecimals)];
}

const MIB = 1024 * 1024;

/** The size and the limit, with as many decimals as it takes for the two not to read alike. */
export function formatSizes(size: number, limit: number): [string, string] {
  const [unit, divisor] = limit >= MIB ? ['MiB', MIB] : limit >= 1024 ? ['KiB', 1024] : ['bytes', 1];
  const show = (n: number, decimals: number): string => `${Number((n / divisor).toFixed(decimals))} ${unit}`;
  let decimals = 1;
  while (decimals < 6 && show(size, decimals) === show(limit, decimals)) decimals++;
  if (show(size, decimals) === show(limit, decimals)) return [`${size} bytes`, `${limit} bytes`];
  return [show(size, decimals), show(limit, decimals)];
}

/**
 * "4.20 s", or "301.00 s (5 min 1 s)" from a minute up, for a length beyond `limit`: as many decimals as it takes
 * not to read as the limit ("1.9995 s", never "2.00 s" against a 2 s minimum).
 */
export function formatDuration(seconds: number, limit: number): string {
  const plain = `${formatBeyond(seconds, limit, { minDecimals: 2, keepZeros: true })} s`;
  const whole = Math.round(seconds);
  // The minutes are a reading aid; left out when they would read as the limit ("300.004 s (5 min)").
  if (seconds < 60 || whole === limit) return plain;
  const rest = whole % 60;
  return `${plain} (${Math.floor(whole / 60)} min${rest ? ` ${rest} s` : ''})`;
}

/** A length limit in seconds, with minutes from a minute up. */
export function formatLimit(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const rest = seconds % 60;
  return `${seconds} s (${Math.floor(seconds / 60)} min${rest ? ` ${rest} s` : ''})`;
}

/** "The .jpg file", or "The file" when there is no extension. */
export function fileLabel(extension: string): string {
  const clean = extension.replace(/^\./, '').toLowerCase();
  return clean ? `The .${clean} file` : 'The file';
}

/** "GIF image data (image/gif)". */
export function describe(type: FileTypeResult): string {
  const kind = type.mime.split('/')[0];
  const noun = kind === 'image' || kind === 'audio' || kind === 'video' ? `${kind} data` : 'data';
  return `${type.ext.toUpperCase()} ${noun} (${type.mime})`;
}

export function contentOf(type: FileTypeResult | undefined): string {
  return type
    ? `its content is ${describe(type)}`
    : 'its content is not a known media format (it may be text, or damaged)';
}
