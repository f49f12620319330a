import { RemovalPolicy } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from './nag';

export interface SecretsProps {
  /** Name of the existing secret holding the Runware API key (created by the operator before deploying). */
  readonly runwareApiKeySecretName: string;
}

/**
 * The two secrets of the pipeline. Functions receive a secret's name or ARN in their environment and read the
 * value through Secrets Manager at run time: a value never appears in the template, an env var or a log.
 */
export class Secrets extends Construct {
  /** The Runware API key: imported by name, owned and rotated by the operator. */
  readonly runwareApiKey: secretsmanager.ISecret;
  /** Key from which the per-task webhook tokens are derived (HMAC). */
  readonly webhookSigningSecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: SecretsProps) {
    super(scope, id);

    this.runwareApiKey = secretsmanager.Secret.fromSecretNameV2(
      this,
      'RunwareApiKey',
      props.runwareApiKeySecretName,
    );

    this.webhookSigningSecret = new secretsmanager.Secret(this, 'WebhookSigningSecret', {
      description: 'avatar-pipeline: HMAC key of the per-task tokens carried by Runware webhook URLs',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    acknowledge(
      this.webhookSigningSecret,
      'The signing key authenticates webhook URLs already handed to Runware for tasks in flight (up to the hard ' +
        'deadline); automatic rotation would make their callbacks fail. Rotate by hand between jobs: the pipeline ' +
        'falls back to polling for any task whose webhook is refused.',
      'AwsSolutions-SMG4',
    );
  }
}
