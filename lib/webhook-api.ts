import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from './nag';

export interface WebhookApiProps {
  /** The function that receives Runware's webhook calls. */
  readonly handler: IFunction;
  /**
   * Retention of the access log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Steady-state request rate allowed on the stage, per second.
   * @default 20
   */
  readonly rateLimit?: number;
  /**
   * Burst of requests allowed on the stage.
   * @default 50
   */
  readonly burstLimit?: number;
}

/**
 * Access log fields. Deliberately without the path or query string: the per-task token travels as `?token=`, and
 * an access log must not become a list of valid tokens.
 */
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  status: '$context.status',
  responseLength: '$context.responseLength',
  integrationErrorMessage: '$context.integrationErrorMessage',
});

/**
 * The public endpoint Runware calls when a task finishes: an HTTP API with the single route
 * `POST /runware/{taskUUID}` (anything else is answered 404 by API Gateway without invoking anything).
 */
export class WebhookApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly accessLogGroup: logs.LogGroup;
  /** Base URL of the webhooks, without a trailing slash: the submit step appends `/<taskUUID>?token=...`. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id);

    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'avatar-pipeline: Runware webhook receiver',
      createDefaultStage: false,
    });
    this.api.addRoutes({
      path: '/runware/{taskUUID}',
      methods: [apigwv2.HttpMethod.POST],
      integration: new HttpLambdaIntegration('Webhook', props.handler),
    });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.rateLimit ?? 20, burstLimit: props.burstLimit ?? 50 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(ACCESS_LOG_FORMAT),
      },
    });

    this.url = `${this.api.apiEndpoint}/runware`;

    const unauthenticated =
      'Runware calls webhooks with a plain POST and cannot send authentication headers or sign requests. Each ' +
      'webhook URL carries an unguessable per-task token (HMAC of the task with a key from Secrets Manager) that ' +
      'the webhook function checks in constant time before anything changes; forged or unknown calls are refused.';
    acknowledge(this.api, unauthenticated, 'AwsSolutions-APIG4');
  }
}
