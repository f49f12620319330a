import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AvatarPipelineStack } from '../lib/avatar-pipeline-stack';
import { STACK_NAME } from '../lib/construct-ids';

const app = new App();
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
new AvatarPipelineStack(app, STACK_NAME, {
  ...(account || region ? { env: { account, region } } : {}),
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
