import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DEFAULT_SETTINGS } from '../lambdas/core/contract/defaults';
import { NORMALIZED_PREFIX } from '../lambdas/core/contract/keys';
import { ARCHIVE_PREFIX } from '../lambdas/core/contract/output-names';
import { normalizedCopyExpirationDays } from '../lambdas/core/contract/retention';
import { TABLE_SCHEMA } from '../lambdas/core/store/schema';

export interface StorageProps {
  /**
   * How long replaced or deleted versions of dropped files are kept before S3 expires them.
   * @default Duration.days(30)
   */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * How long server access logs are kept.
   * @default Duration.days(90)
   */
  readonly accessLogExpiration?: Duration;
  /**
   * When the archived copies of delivered videos (`archive/<jobId>/` in the output bucket) move to S3 Glacier
   * Instant Retrieval: read in milliseconds like Standard (a restore is still a plain server-side copy), at about
   * a sixth of the storage price, plus a retrieval charge per GB read.
   * @default Duration.days(30)
   */
  readonly archiveTransitionAfter?: Duration;
  /**
   * How long the normalized images validation stores under `normalized/` of the input bucket are kept: past the
   * hard deadline of the attempt that made them and the presigned URL Runware got (see
   * `normalizedCopyExpirationDays`); the stack derives it from its settings.
   * @default the days `normalizedCopyExpirationDays` gives for the default settings (8)
   */
  readonly normalizedCopyExpiration?: Duration;
}

/**
 * The stateful part of the pipeline: the drop-folder (input) bucket, the output bucket, the bucket their server
 * access logs go to, and the job table. Everything here is retained when the stack is deleted: it holds people's
 * files and the record of what was paid for.
 */
export class Storage extends Construct {
  /** Where jobs are dropped under `inbox/`. Sends its events to EventBridge; versioned so nothing is lost. */
  readonly inputBucket: s3.Bucket;
  /**
   * Where videos, job records and `<stem>.error.json` files appear; and, under `archive/<jobId>/`, a copy of every
   * delivered video, from which a job's outputs are put back when its inputs are dropped again.
   */
  readonly outputBucket: s3.Bucket;
  /** Server access logs of both buckets. */
  readonly accessLogBucket: s3.Bucket;
  /** Jobs, pairing records and task lookups (`pk`/`sk`, TTL on `expiresAt`). */
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StorageProps = {}) {
    super(scope, id);

    const secure = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
    } satisfies s3.BucketProps;
    const abortIncompleteUploads: s3.LifecycleRule = {
      id: 'abort-incomplete-multipart-uploads',
      abortIncompleteMultipartUploadAfter: Duration.days(1),
    };

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
      ...secure,
      lifecycleRules: [
        abortIncompleteUploads,
        { id: 'expire-access-logs', expiration: props.accessLogExpiration ?? Duration.days(90) },
      ],
    });

    this.inputBucket = new s3.Bucket(this, 'InputBucket', {
      ...secure,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'input/',
      lifecycleRules: [
        {
          ...abortIncompleteUploads,
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(30),
          expiredObjectDeleteMarker: true,
        },
        {
          // The pipeline's own copies, one per attempt, never read after it: expired (the delete marker and the
          // old version then go too; the shorter of two overlapping rules applies), not kept like the user's files.
          id: 'expire-normalized-images',
          prefix: NORMALIZED_PREFIX,
          expiration:
            props.normalizedCopyExpiration ??
            Duration.days(
              normalizedCopyExpirationDays(
                DEFAULT_SETTINGS.hardDeadlineSeconds,
                DEFAULT_SETTINGS.presignTtlSeconds,
              ),
            ),
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
    });

    // S3 -> EventBridge notifications, set on the CloudFormation resource itself. The L2 `eventBridgeEnabled`
    // would do it through a custom resource (an extra Python Lambda with a managed-policy role) for no benefit
    // on a bucket this stack owns.
    (this.inputBucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };

    this.outputBucket = new s3.Bucket(this, 'OutputBucket', {
      ...secure,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'output/',
      lifecycleRules: [
        abortIncompleteUploads,
        {
          // Kept for good (a job's outputs can come back whenever its inputs do), but seldom read.
          id: 'archived-videos-to-glacier-instant-retrieval',
          prefix: ARCHIVE_PREFIX,
          transitions: [
            {
              storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: props.archiveTransitionAfter ?? Duration.days(30),
            },
          ],
        },
      ],
    });

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TABLE_SCHEMA.timeToLiveAttribute,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Items that fall due at a time (a lone image or audio waiting for its partner), for the sweeper.
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_SCHEMA.dueIndex.name,
      partitionKey: { name: TABLE_SCHEMA.dueIndex.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.dueIndex.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
