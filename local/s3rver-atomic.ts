import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * S3 replaces an object whole: "Updates to a single key are atomic. For example, if you make a PUT request to an
 * existing key from one thread and perform a GET request on the same key from a second thread concurrently, you
 * will get either the old data or the new data, but never partial or corrupt data." (Amazon S3 User Guide, "Amazon
 * S3 data consistency model", https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel)
 * s3rver 3.7.1 (lib/stores/filesystem.js) does not: `putObject` and `copyObject`
 * rewrite the object's file in place (truncate, then write), and its metadata file after it. A GET that read the
 * length before the rewrite and the bytes after it gets a short body and the client sees `aborted`; one between the
 * two writes gets the new bytes with the old length and ETag. Here a new version is written beside the object and
 * renamed over it (a reader that opened the old file keeps reading the old one), and the rename, the metadata and
 * the GET's read of both are taken one at a time per key.
 */

/** The part of s3rver's filesystem store this replaces or calls. */
interface Store {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, unknown>, md5?: string): Promise<void>;
  getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
  getObject(bucket: string, key: string, options?: unknown): Promise<unknown>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
  copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata?: Record<string, unknown>,
  ): Promise<Record<string, unknown>>;
  deleteObject(bucket: string, key: string): Promise<unknown>;
}

interface StoredObject {
  bucket: string;
  key: string;
  metadata: Record<string, unknown>;
  content: Buffer | NodeJS.ReadableStream;
}

export function makeObjectWritesAtomic(server: object): void {
  const store = (server as { store: Store }).store;
  const { getObject, deleteObject } = store;
  const locks = new Map<string, Promise<unknown>>();
  /** Runs `work` after every earlier `work` of the same key has finished. */
  const oneAtATime = <T>(bucket: string, key: string, work: () => Promise<T>): Promise<T> => {
    const id = `${bucket}\u0000${key}`;
    const before = locks.get(id) ?? Promise.resolve();
    const run = before.then(work, work);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    locks.set(id, settled);
    void settled.then(() => {
      if (locks.get(id) === settled) locks.delete(id);
    });
    return run;
  };
  const paths = (bucket: string, key: string) => {
    const object = store.getResourcePath(bucket, key, 'object');
    // Not ending in `._S3rver_object`, so s3rver's listing passes over it while it is being written.
    return { object, md5: `${object}.md5`, next: `${object}.${randomUUID()}.next` };
  };

  // The metadata read and the file opened together: the stream then reads that version to its end.
  store.getObject = (bucket, key, options) =>
    oneAtATime(bucket, key, () => getObject.call(store, bucket, key, options));

  store.deleteObject = (bucket, key) => oneAtATime(bucket, key, () => deleteObject.call(store, bucket, key));

  store.putObject = async (object) => {
    const { object: target, md5: md5Path, next } = paths(object.bucket, object.key);
    await mkdir(dirname(target), { recursive: true });
    const hash = createHash('md5');
    let size = 0;
    try {
      if (Buffer.isBuffer(object.content)) {
        hash.update(object.content);
        size = object.content.length;
        await writeFile(next, object.content);
      } else {
        const count = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        });
        await pipeline(object.content, count, createWriteStream(next));
      }
      const md5 = hash.digest('hex');
      await oneAtATime(object.bucket, object.key, async () => {
        await rename(next, target);
        await writeFile(md5Path, md5);
        await store.putMetadata(object.bucket, object.key, object.metadata);
      });
      return { size, md5 };
    } finally {
      await rm(next, { force: true });
    }
  };

  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, replacementMetadata) => {
    const src = paths(srcBucket, srcKey);
    const dest = paths(destBucket, destKey);
    if (src.object === dest.object) {
      // A copy onto itself changes only the metadata.
      return oneAtATime(destBucket, destKey, async () => {
        if (replacementMetadata) await store.putMetadata(destBucket, destKey, replacementMetadata);
        return store.getMetadata(destBucket, destKey);
      });
    }
    await mkdir(dirname(dest.object), { recursive: true });
    try {
      // The source as one version: its bytes, md5 and metadata read while nobody replaces it.
      const { md5, metadata } = await oneAtATime(srcBucket, srcKey, async () => {
        await copyFile(src.object, dest.next);
        return {
          md5: await readFile(src.md5, 'utf8').catch(() => undefined),
          metadata: replacementMetadata ?? (await store.getMetadata(srcBucket, srcKey)),
        };
      });
      return await oneAtATime(destBucket, destKey, async () => {
        await rename(dest.next, dest.object);
        if (md5 === undefined) await unlink(dest.md5).catch(() => undefined);
        else await writeFile(dest.md5, md5);
        await store.putMetadata(destBucket, destKey, metadata);
        return store.getMetadata(destBucket, destKey);
      });
    } finally {
      await rm(dest.next, { force: true });
    }
  };
}
