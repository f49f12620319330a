import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AvatarPipelineStack } from '../../lib/avatar-pipeline-stack';
import { STACK_NAME } from '../../lib/construct-ids';

const CDK_JSON = path.resolve(import.meta.dirname, '../../cdk.json');

/** The feature flags of cdk.json, so a test app behaves like `cdk synth`. */
export function cdkJsonContext(): Record<string, unknown> {
  const parsed: unknown = JSON.parse(readFileSync(CDK_JSON, 'utf8'));
  if (
    parsed &&
    typeof parsed === 'object' &&
    'context' in parsed &&
    parsed.context &&
    typeof parsed.context === 'object'
  ) {
    return { ...(parsed.context as Record<string, unknown>) };
  }
  return {};
}

export interface Built {
  app: App;
  stack: AvatarPipelineStack;
}

export interface Synthesized extends Built {
  template: Template;
}

/**
 * Builds the app as `cdk synth` would (cdk.json feature flags plus extra context, e.g. settings), without
 * synthesizing it yet. Lambda bundling is skipped (assets become placeholders) unless INFRA_TEST_BUNDLE=1: these
 * tests are about the infrastructure, and `cdk synth` bundles the handlers itself.
 */
export function build(context: Record<string, unknown> = {}): Built {
  const bundling = process.env.INFRA_TEST_BUNDLE === '1' ? {} : { 'aws:cdk:bundling-stacks': [] };
  const app = new App({ context: { ...cdkJsonContext(), ...bundling, ...context } });
  return { app, stack: new AvatarPipelineStack(app, STACK_NAME) };
}

/** {@link build}, then synthesize. The app is synthesized once: plugins added afterwards never run. */
export function synth(context: Record<string, unknown> = {}): Synthesized {
  const built = build(context);
  return { ...built, template: Template.fromStack(built.stack) };
}
