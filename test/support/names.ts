import type { LocalNames } from '../../local/template.js';

/** Resource names for tests that start local services (s3rver and the like) without a synthesized stack. */
export const TEST_NAMES: LocalNames = {
  inputBucket: 'avatar-pipeline-input',
  outputBucket: 'avatar-pipeline-output',
  tableName: 'avatar-pipeline-jobs',
  stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:AvatarPipeline',
  webhookSecretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:x',
  webhookOrigin: 'http://127.0.0.1:1',
};
