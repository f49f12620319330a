import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { TABLE_DEFINITION } from '../../lambdas/core/store/schema.js';

/**
 * A real DynamoDB API (dynalite, in memory) with the pipeline's table, for tests of conditional writes and
 * races that a mocked client could not prove anything about.
 */
export async function startDynamo(
  tableName = 'jobs',
): Promise<{ client: DynamoDBClient; tableName: string; stop: () => Promise<void> }> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  // Same keys and index as lib/storage.ts declares (both read them from the table schema).
  await client.send(new CreateTableCommand({ TableName: tableName, ...TABLE_DEFINITION }));
  return {
    client,
    tableName,
    stop: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
