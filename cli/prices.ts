import { type ModelPrices, ModelPricesJson } from '../lambdas/core/contract/cost.js';
import { DEFAULT_SETTINGS } from '../lambdas/core/contract/defaults.js';
import { STACK_NAME } from '../lib/construct-ids.js';
import { chosenLocal, stackOutputs, type TargetOptions } from './target.js';

/** The stack output that carries the deployed price table (`modelPricesUsdPerSecond`, lib/avatar-pipeline-stack.ts). */
export const PRICES_OUTPUT = 'ModelPricesUsdPerSecond';

/** A price table and where it came from, as `estimate` says it. */
export interface PriceTable {
  prices: ModelPrices;
  /** `local (.local/endpoints.json)`, `stack AvatarPipeline (eu-west-1)`, or `defaults`. */
  source: string;
  /** Why the defaults were used (the stack could not be read, or has no price table). */
  note?: string;
}

export const DEFAULT_PRICE_TABLE = 'defaults';

/** How long `estimate` waits for a deployed stack before it uses the default table (it works offline too). */
const LOOKUP_TIMEOUT_MS = 8000;

/**
 * The price table the target's validation uses, so that an estimate matches what a job would record: the local
 * stack's (its endpoints file) or the deployed stack's (its CloudFormation output), chosen like every command's
 * target. When neither can be read, the documented defaults, with a note that says why.
 */
export async function priceTable(options: TargetOptions, timeoutMs = LOOKUP_TIMEOUT_MS): Promise<PriceTable> {
  const why = (error: unknown) => (error instanceof Error ? error.message : String(error)).replace(/\.$/, '');
  let source: string;
  let value: string | undefined;
  let local: ReturnType<typeof chosenLocal>;
  try {
    local = chosenLocal(options);
  } catch (error) {
    return defaults(why(error));
  }
  if (local) {
    source = `local (${local.file})`;
    value = local.local?.outputs?.[PRICES_OUTPUT];
  } else {
    const stack = options.stack ?? STACK_NAME;
    try {
      const found = await withTimeout(stackOutputs(stack, options), timeoutMs, `stack ${stack}`);
      source = `stack ${stack} (${found.region})`;
      value = found.outputs[PRICES_OUTPUT];
    } catch (error) {
      return defaults(`stack ${stack} could not be read: ${why(error)}`);
    }
  }
  if (value === undefined) return defaults(`${source} publishes no price table (deployed before it did)`);
  const parsed = ModelPricesJson.safeParse(value);
  if (!parsed.success) return defaults(`${source} has a price table this CLI cannot read`);
  return { prices: { ...DEFAULT_SETTINGS.modelPricesUsdPerSecond, ...parsed.data }, source };
}

function defaults(note: string): PriceTable {
  return { prices: DEFAULT_SETTINGS.modelPricesUsdPerSecond, source: DEFAULT_PRICE_TABLE, note };
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
