/**
 * What s3rver 3.7.1 does on every request that changes no answer, cut (measured: `npm run bench`, figure 1's user
 * side, where s3rver was the largest share of the local stack's CPU time):
 * - its request logger (koa-logger) still runs when s3rver is `silent`: it formats a coloured line per request and
 *   pipes every streamed body through a byte counter, all for a log nobody writes;
 * - its CORS and website middleware read the bucket's `cors.xml` and `website.xml` from disk on every request,
 *   and its bucket check stats the bucket's folder: answers that change only through s3rver's own store calls.
 * The store's bucket and bucket-configuration answers are kept in memory and forgotten whenever s3rver changes
 * them (put or delete of a configuration, of a bucket, a reset).
 */

/** The part of s3rver's filesystem store (lib/stores/filesystem.js) this touches. */
interface Store {
  getBucket(bucket: string): Promise<unknown>;
  putBucket(bucket: string): Promise<unknown>;
  deleteBucket(bucket: string): Promise<unknown>;
  getSubresource(bucket: string, key: string | undefined, type: string): Promise<unknown>;
  putSubresource(bucket: string, key: string | undefined, resource: { type: string }): Promise<unknown>;
  deleteSubresource(bucket: string, key: string | undefined, type: string): Promise<unknown>;
  reset(): void;
}

/** The part of the s3rver server (a Koa application) this touches. */
interface S3rverApp {
  silent: boolean;
  middleware: ((...args: never[]) => unknown)[];
  store: Store;
}

/** Call before `run()`: Koa composes its middleware when it starts listening. */
export function trimS3rverOverheads(server: object): void {
  const app = server as S3rverApp;
  // s3rver's logger middleware is koa-logger's `logger` function (lib/middleware/logger.js).
  if (app.silent) app.middleware = app.middleware.filter((m) => m.name !== 'logger');
  cacheBucketAnswers(app.store);
}

function cacheBucketAnswers(store: Store): void {
  const buckets = new Map<string, Promise<unknown>>();
  const configs = new Map<string, Promise<unknown>>();
  const configKey = (bucket: string, type: string) => `${bucket}\u0000${type}`;
  const forgetBucket = (bucket: string) => {
    buckets.delete(bucket);
    for (const key of configs.keys()) if (key.startsWith(`${bucket}\u0000`)) configs.delete(key);
  };
  /** The store's answer, kept once it succeeded (a failed one is asked again next time). */
  const kept = (cache: Map<string, Promise<unknown>>, key: string, ask: () => Promise<unknown>) => {
    const found = cache.get(key);
    if (found) return found;
    const answer = ask();
    cache.set(key, answer);
    answer.catch(() => cache.delete(key));
    return answer;
  };

  const { getBucket, putBucket, deleteBucket, getSubresource, putSubresource, deleteSubresource, reset } =
    store;
  store.getBucket = (bucket) => kept(buckets, bucket, () => getBucket.call(store, bucket));
  store.putBucket = async (bucket) => {
    forgetBucket(bucket);
    try {
      return await putBucket.call(store, bucket);
    } finally {
      forgetBucket(bucket);
    }
  };
  store.deleteBucket = async (bucket) => {
    forgetBucket(bucket);
    try {
      return await deleteBucket.call(store, bucket);
    } finally {
      forgetBucket(bucket);
    }
  };
  // Only a bucket's own configurations (CORS, website) are kept; those of an object are read as before.
  store.getSubresource = (bucket, key, type) =>
    key === undefined
      ? kept(configs, configKey(bucket, type), () => getSubresource.call(store, bucket, key, type))
      : getSubresource.call(store, bucket, key, type);
  store.putSubresource = async (bucket, key, resource) => {
    configs.delete(configKey(bucket, resource.type));
    try {
      return await putSubresource.call(store, bucket, key, resource);
    } finally {
      configs.delete(configKey(bucket, resource.type));
    }
  };
  store.deleteSubresource = async (bucket, key, type) => {
    configs.delete(configKey(bucket, type));
    try {
      return await deleteSubresource.call(store, bucket, key, type);
    } finally {
      configs.delete(configKey(bucket, type));
    }
  };
  store.reset = () => {
    buckets.clear();
    configs.clear();
    reset.call(store);
  };
}
