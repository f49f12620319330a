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
