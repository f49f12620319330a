import type { CfnOutput } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { PRICES_OUTPUT } from '../../cli/prices.js';
import { build } from './synth';

/** The CLI's `estimate` reads the deployed stack's price table from this output (test/unit/cli-prices.test.ts). */
describe('the price table of estimate', () => {
  it('is the one the stack deploys, published as a stack output', () => {
    const { stack } = build({ modelPricesUsdPerSecond: { 'klingai:avatar@2.0-pro': 0.1 } });
    const output = stack.node.findChild(PRICES_OUTPUT) as CfnOutput;
    expect(JSON.parse(String(stack.resolve(output.value)))).toEqual({
      'klingai:avatar@2.0-pro': 0.1,
      'klingai:avatar@2.0-standard': 0.044,
    });
  });
});
