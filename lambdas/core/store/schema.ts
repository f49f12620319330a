/**
 * The job table's shape: key attributes, index and TTL attribute names. Plain constants, so that the CDK app
 * (`lib/storage.ts`) and the tests' table can share them without loading the DynamoDB client.
 */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Items expire (DynamoDB TTL) at this epoch-seconds attribute, when they set it. */
  timeToLiveAttribute: 'expiresAt',
  /** Items that fall due at a time (a lone image or audio waiting for its partner), for the sweeper. */
  dueIndex: { name: 'due', partitionKey: 'duePk', sortKey: 'dueSk' },
} as const;

/** The table as a `CreateTable` request would declare it (string keys, on-demand), for emulators. */
export const TABLE_DEFINITION = {
  BillingMode: 'PAY_PER_REQUEST' as const,
  AttributeDefinitions: [
    TABLE_SCHEMA.partitionKey,
    TABLE_SCHEMA.sortKey,
    TABLE_SCHEMA.dueIndex.partitionKey,
    TABLE_SCHEMA.dueIndex.sortKey,
  ].map((AttributeName) => ({ AttributeName, AttributeType: 'S' as const })),
  KeySchema: [
    { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' as const },
    { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' as const },
  ],
  GlobalSecondaryIndexes: [
    {
      IndexName: TABLE_SCHEMA.dueIndex.name,
      KeySchema: [
        { AttributeName: TABLE_SCHEMA.dueIndex.partitionKey, KeyType: 'HASH' as const },
        { AttributeName: TABLE_SCHEMA.dueIndex.sortKey, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    },
  ],
};
