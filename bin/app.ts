import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AvatarPipelineStack } from '../lib/avatar-pipeline-stack';
import { STACK_NAME } from '../lib/construct-ids';

const app = new App();
// Local mode's assembly cache only (local/assembly-cache.ts): a synth of other settings from the same sources
// takes the bundles of an earlier synth instead of bundling them again. Never set for a deployment.
if (process.env.AVATAR_SYNTH_SKIP_BUNDLING === '1') app.node.setContext('aws:cdk:bundling-stacks', []);
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
new AvatarPipelineStack(app, STACK_NAME, {
  ...(account || region ? { env: { account, region } } : {}),
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
