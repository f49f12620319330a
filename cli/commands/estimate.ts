import { DEFAULT_SETTINGS } from '../../lambdas/core/contract/defaults.js';
import { CliError, EXIT } from '../errors.js';
import { type Estimate, estimateCost, measureAudio, parseModel } from '../estimate-cost.js';
import { usd } from '../format.js';
import { DEFAULT_PRICE_TABLE, type PriceTable } from '../prices.js';
import { int, type Outcome } from './common.js';

export async function estimate(
  options: { audio: string; results?: string; model?: string },
  /** Reads the target's price table (cli/prices.ts), after the arguments were checked; the defaults when not given. */
  readTable: () => Promise<PriceTable> = async () => ({
    prices: DEFAULT_SETTINGS.modelPricesUsdPerSecond,
    source: DEFAULT_PRICE_TABLE,
  }),
): Promise<Outcome> {
  const model = parseModel(options.model);
  const results = int('results', options.results) ?? 1;
  if (results < 1) throw new CliError('--results must be at least 1.', EXIT.usage, 'USAGE');
  const seconds = await measureAudio(options.audio);
  const table = await readTable();
  const result: Estimate = estimateCost(seconds, model, results, table.prices);
  const prices =
    table.source === DEFAULT_PRICE_TABLE
      ? `Prices: the default table (modelPricesUsdPerSecond defaults)${table.note ? `: ${table.note}` : ''}.`
      : `Prices: the table of ${table.source}.`;
  return {
    json: { ...result, priceTable: { source: table.source, ...(table.note ? { note: table.note } : {}) } },
    text:
      `${result.audioSeconds.toFixed(2)} s of audio x USD ${result.usdPerSecond}/s (${model}) x ${results} result(s)` +
      ` = ${usd(result.estimatedUsd)}\n${prices}`,
  };
}
