import { Logger } from '@aws-lambda-powertools/logger';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ConfigurationError } from '../errors.js';
import { HttpRunwareClient } from '../runware/client.js';

/**
 * What every function shares: one logger, SDK clients created once per container, secrets read through the
 * Powertools cache. Endpoints come from the SDK's standard `AWS_ENDPOINT_URL_*` variables, so the same code runs
 * against AWS and against local emulators.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'avatar-pipeline' });

let s3: S3Client | undefined;
let dynamo: DynamoDBClient | undefined;
let sfn: SFNClient | undefined;
let events: EventBridgeClient | undefined;

export function s3Client(): S3Client {
  s3 ??= new S3Client({ forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true' });
  return s3;
}

export function dynamoClient(): DynamoDBClient {
  dynamo ??= new DynamoDBClient({});
  return dynamo;
}

export function sfnClient(): SFNClient {
  sfn ??= new SFNClient({});
  return sfn;
}

export function eventsClient(): EventBridgeClient {
  events ??= new EventBridgeClient({});
  return events;
}

const SECRET_MAX_AGE_SECONDS = 300;

/** Reads a secret string from Secrets Manager (cached for five minutes). Its value is never logged. */
export async function readSecret(secretId: string): Promise<string> {
  const value = await getSecret(secretId, { maxAge: SECRET_MAX_AGE_SECONDS });
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigurationError(
      `Secret ${secretId} is empty or not a string. Put the value with aws secretsmanager put-secret-value.`,
    );
  }
  return value;
}

/**
 * The Runware client of a function, its API key read from Secrets Manager on use. Three tries of at most 25 s
 * each, plus backoff, fit well inside the submit and poll functions' timeouts.
 */
export function runwareClient(url: string, apiKeySecret: string): HttpRunwareClient {
  return new HttpRunwareClient({
    url,
    apiKey: () => readSecret(apiKeySecret),
    maxAttempts: 3,
    timeoutMs: 25_000,
  });
}
