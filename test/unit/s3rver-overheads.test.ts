import { describe, expect, it } from 'vitest';
import { trimS3rverOverheads } from '../../local/s3rver-overheads.js';

/** A stand-in for s3rver's filesystem store that counts the reads reaching it. */
function fakeStore() {
  const configs = new Map<string, string>();
  const buckets = new Set(['in']);
  const reads = { bucket: 0, config: 0 };
  const store = {
    reads,
    async getBucket(bucket: string) {
      reads.bucket += 1;
      return buckets.has(bucket) ? { name: bucket } : null;
    },
    async putBucket(bucket: string) {
      buckets.add(bucket);
      return { name: bucket };
    },
    async deleteBucket(bucket: string) {
      buckets.delete(bucket);
    },
    async getSubresource(bucket: string, key: string | undefined, type: string) {
      reads.config += 1;
      return configs.get(`${bucket}/${key ?? ''}/${type}`) ?? null;
    },
    async putSubresource(bucket: string, key: string | undefined, resource: { type: string; xml: string }) {
      configs.set(`${bucket}/${key ?? ''}/${resource.type}`, resource.xml);
    },
    async deleteSubresource(bucket: string, key: string | undefined, type: string) {
      configs.delete(`${bucket}/${key ?? ''}/${type}`);
    },
    reset() {
      buckets.clear();
      configs.clear();
    },
  };
  return store;
}

function fakeApp(silent: boolean) {
  async function logger() {}
  async function cors() {}
  return { silent, middleware: [logger, cors], store: fakeStore() };
}

describe("s3rver's per-request overheads", () => {
  it('leaves out the request logger of a silent s3rver, and keeps it when it logs', () => {
    const silent = fakeApp(true);
    trimS3rverOverheads(silent);
    expect(silent.middleware.map((m) => m.name)).toEqual(['cors']);
    const logging = fakeApp(false);
    trimS3rverOverheads(logging);
    expect(logging.middleware.map((m) => m.name)).toEqual(['logger', 'cors']);
  });

  it("reads a bucket's configuration once, and again after it was put or deleted", async () => {
    const app = fakeApp(true);
    trimS3rverOverheads(app);
    const { store } = app;
    expect(await store.getSubresource('in', undefined, 'cors')).toBeNull();
    expect(await store.getSubresource('in', undefined, 'cors')).toBeNull();
    expect(store.reads.config).toBe(1);
    await store.putSubresource('in', undefined, { type: 'cors', xml: '<CORSConfiguration/>' });
    expect(await store.getSubresource('in', undefined, 'cors')).toBe('<CORSConfiguration/>');
    await store.deleteSubresource('in', undefined, 'cors');
    expect(await store.getSubresource('in', undefined, 'cors')).toBeNull();
    expect(store.reads.config).toBe(3);
    // An object's own configuration is read every time.
    await store.getSubresource('in', 'a.txt', 'acl');
    await store.getSubresource('in', 'a.txt', 'acl');
    expect(store.reads.config).toBe(5);
  });

  it('sees a bucket created, deleted or reset through the store', async () => {
    const app = fakeApp(true);
    trimS3rverOverheads(app);
    const { store } = app;
    expect(await store.getBucket('out')).toBeNull();
    await store.putBucket('out');
    expect(await store.getBucket('out')).toEqual({ name: 'out' });
    expect(await store.getBucket('out')).toEqual({ name: 'out' });
    await store.deleteBucket('out');
    expect(await store.getBucket('out')).toBeNull();
    expect(await store.getBucket('in')).toEqual({ name: 'in' });
    store.reset();
    expect(await store.getBucket('in')).toBeNull();
  });
});
