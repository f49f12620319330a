import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type * as z from 'zod';
import { TABLE_SCHEMA } from './schema.js';

/**
 * The one DynamoDB table behind every store, and the only module that talks to it. Every item is keyed by
 * `pk`/`sk`:
 * - `STEM#<stem>` / `FILE#<key>`: a file seen in the inbox (pairing);
 * - `STEM#<stem>` / `ORPHAN_WATCH`: the orphan clock of a stem with a lone file (also in the due index);
 * - `STEM#<stem>` / `SHOWN`: the job whose outputs the stem's output keys hold now;
 * - `JOB#<jobId>` / `JOB`: the job record;
 * - `TASK#<taskUUID>` / `TASK`: the Runware task lookup for the webhook and the poller;
 * - `SLOTS` / `SLOTS`: the Runware slots taken (`maxConcurrentTasks`), one map of holders;
 * - `WAITER#<jobId>#<attempt>` / `WAITER`: a job attempt waiting for a slot (also in the due index, oldest first).
 * - `OUTPUT#<key>` / `OUTPUT`: the stem that holds a key of the output bucket (for good once written; see
 *   `retention.ts`).
 * - `BUDGET#<YYYY-MM>` / `BUDGET`: the spend of one UTC month and of each of its days, with the open reservations.
 * Every write is a single-item conditional write (no transactions), so it runs on DynamoDB Local emulators too.
 * A new store adds its key builder here and its own module beside the others.
 */
export type ItemKey = { readonly pk: string; readonly sk: string };

const { partitionKey: PK, sortKey: SK, dueIndex: DUE } = TABLE_SCHEMA;

export const keys = {
  file: (stem: string, key: string): ItemKey => ({ pk: `STEM#${stem}`, sk: `FILE#${key}` }),
  orphanWatch: (stem: string): ItemKey => ({ pk: `STEM#${stem}`, sk: 'ORPHAN_WATCH' }),
  shown: (stem: string): ItemKey => ({ pk: `STEM#${stem}`, sk: 'SHOWN' }),
  job: (jobId: string): ItemKey => ({ pk: `JOB#${jobId}`, sk: 'JOB' }),
  task: (taskUUID: string): ItemKey => ({ pk: `TASK#${taskUUID}`, sk: 'TASK' }),
  slots: (): ItemKey => ({ pk: 'SLOTS', sk: 'SLOTS' }),
  waiter: (holder: string): ItemKey => ({ pk: `WAITER#${holder}`, sk: 'WAITER' }),
  output: (outputKey: string): ItemKey => ({ pk: `OUTPUT#${outputKey}`, sk: 'OUTPUT' }),
  /** One UTC month (`YYYY-MM`) of spend; its days live in the same item, so one write covers both limits. */
  budget: (month: string): ItemKey => ({ pk: `BUDGET#${month}`, sk: 'BUDGET' }),
};

/** Items of one partition whose sort key starts with a prefix: all the inbox files of a stem. */
export const keyRanges = {
  filesOf: (stem: string) => ({ pk: `STEM#${stem}`, skPrefix: 'FILE#' }),
};

/** Partitions of the due index. */
export const duePartitions = {
  orphans: 'ORPHAN',
  /** Job attempts waiting for a Runware slot, by the time they started waiting. */
  slotQueue: 'QUEUE',
} as const;

/** The due-index attributes of an item that falls due at `dueAt` (ties ordered by `id`). */
export const dueAt = (partition: string, at: string, id: string) => ({
  [DUE.partitionKey]: partition,
  [DUE.sortKey]: `${at}#${id}`,
});

/** A piece of a condition or update expression, with the placeholders it uses. */
export interface Expr {
  readonly text: string;
  readonly names?: Readonly<Record<string, string>>;
  readonly values?: Readonly<Record<string, unknown>>;
}

export const expr = (
  text: string,
  names?: Record<string, string>,
  values?: Record<string, unknown>,
): Expr => ({ text, ...(names ? { names } : {}), ...(values ? { values } : {}) });

/** Joins expression parts with `separator`, merging their placeholders (a placeholder means one thing). */
export function join(separator: string, parts: readonly Expr[]): Expr {
  return {
    text: parts.map((p) => p.text).join(separator),
    names: Object.assign({}, ...parts.map((p) => p.names ?? {})),
    values: Object.assign({}, ...parts.map((p) => p.values ?? {})),
  };
}

/** Conditions every store uses. */
export const itemExists = expr(`attribute_exists(${PK})`);
export const itemIsNew = expr(`attribute_not_exists(${PK})`);

/** Update clause that takes an item out of the due index, and the condition that it is still in it. */
export const leaveDueIndex = `REMOVE ${DUE.partitionKey}, ${DUE.sortKey}`;
export const inDueIndex = expr(`attribute_exists(${DUE.sortKey})`);

/** One single-item write, applied only if its condition (if any) holds. */
export type Write =
  | { readonly put: ItemKey & Record<string, unknown>; readonly if?: Expr }
  | { readonly delete: ItemKey; readonly if?: Expr }
  | { readonly update: ItemKey; readonly set: Expr; readonly if?: Expr };

type UpdateWrite = Extract<Write, { update: ItemKey }>;

const CONDITION_FAILED = Symbol('condition failed');

export class Table {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    readonly name: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
    });
  }

  /** The item, parsed by `schema` (which drops the key attributes); undefined when there is none. */
  async get<S extends z.ZodType>(key: ItemKey, schema: S): Promise<z.output<S> | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.name, Key: key, ConsistentRead: true }));
    return out.Item ? schema.parse(out.Item) : undefined;
  }

  /** Every item of a key range (all pages, consistent read), parsed by `schema`. */
  async query<S extends z.ZodType>(
    range: { pk: string; skPrefix: string },
    schema: S,
  ): Promise<z.output<S>[]> {
    const items: z.output<S>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.name,
          KeyConditionExpression: `${PK} = :pk AND begins_with(${SK}, :prefix)`,
          ExpressionAttributeValues: { ':pk': range.pk, ':prefix': range.skPrefix },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) items.push(schema.parse(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** Items of a due-index partition that fell due at or before `now`, oldest first, parsed by `schema`. */
  async due<S extends z.ZodType>(
    partition: string,
    now: string,
    limit: number,
    schema: S,
  ): Promise<z.output<S>[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.name,
        IndexName: DUE.name,
        KeyConditionExpression: `${DUE.partitionKey} = :partition AND ${DUE.sortKey} <= :now`,
        // `~` sorts after every character of an ISO time and `#`: all items due at or before `now`.
        ExpressionAttributeValues: { ':partition': partition, ':now': `${now}~` },
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((item) => schema.parse(item));
  }

  /**
   * Every item whose sort key is `sk`, across the table (a scan: for operators' listings, not for the pipeline),
   * parsed by `schema`. Reads at most `maxPages` pages; `complete` says whether it reached the end.
   */
  async scanKind<S extends z.ZodType>(
    sk: string,
    schema: S,
    maxPages = 100,
  ): Promise<{ items: z.output<S>[]; complete: boolean }> {
    const items: z.output<S>[] = [];
    let start: Record<string, unknown> | undefined;
    let pages = 0;
    do {
      const page = await this.doc.send(
        new ScanCommand({
          TableName: this.name,
          FilterExpression: `${SK} = :sk`,
          ExpressionAttributeValues: { ':sk': sk },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) items.push(schema.parse(item));
      start = page.LastEvaluatedKey;
      pages += 1;
    } while (start && pages < maxPages);
    return { items, complete: start === undefined };
  }

  /** Applies the write; false when its condition does not hold (nothing was changed then). */
  async write(write: Write): Promise<boolean> {
    return (await this.send(write)) !== CONDITION_FAILED;
  }

  /**
   * Applies an update and returns the whole item after it, parsed by `schema`; undefined when its condition
   * does not hold (nothing was changed then).
   */
  update<S extends z.ZodType>(write: UpdateWrite & { if?: undefined }, schema: S): Promise<z.output<S>>;
  update<S extends z.ZodType>(write: UpdateWrite, schema: S): Promise<z.output<S> | undefined>;
  async update<S extends z.ZodType>(write: UpdateWrite, schema: S): Promise<z.output<S> | undefined> {
    const out = await this.send(write, 'ALL_NEW');
    return out === CONDITION_FAILED ? undefined : schema.parse(out.Attributes);
  }

  /** The one place a failed condition is told apart from a real error. */
  private async send(
    write: Write,
    returnValues?: 'ALL_NEW',
  ): Promise<{ Attributes?: Record<string, unknown> | undefined } | typeof CONDITION_FAILED> {
    const condition = write.if;
    const parts =
      'update' in write ? [write.set, ...(condition ? [condition] : [])] : condition ? [condition] : [];
    const { names, values } = join(' ', parts);
    const common = {
      TableName: this.name,
      ...(condition ? { ConditionExpression: condition.text } : {}),
      ...(names && Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
      ...(values && Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
    };
    const command =
      'put' in write
        ? new PutCommand({ ...common, Item: write.put })
        : 'delete' in write
          ? new DeleteCommand({ ...common, Key: write.delete })
          : new UpdateCommand({
              ...common,
              Key: write.update,
              UpdateExpression: write.set.text,
              ...(returnValues ? { ReturnValues: returnValues } : {}),
            });
    try {
      // The three command types share one send signature at runtime; the union is too wide for the overloads.
      return (await this.doc.send(command as UpdateCommand)) as { Attributes?: Record<string, unknown> };
    } catch (error) {
      if (isConditionFailure(error)) return CONDITION_FAILED;
      throw error;
    }
  }
}

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error instanceof Error && error.name === 'ConditionalCheckFailedException')
  );
}
