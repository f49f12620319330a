import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { HttpVideoSource } from '../../lambdas/deliver/video-source.js';

describe('HttpVideoSource', () => {
  // Headers and a first chunk at once, the rest only when the test says so: the body outlives the connect
  // time-out by as long as the test likes, on the fake clock, whatever the machine's load.
  const waiting: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': '6' });
    res.write('ab');
    waiting.push(res);
  });
  let origin = '';
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => vi.useRealTimers());
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('lets a video stream for longer than the connect time-out, which covers the headers only', async () => {
    // Only the time-out's own timer is faked: the sockets stay real, and the time-out cannot fire before the
    // headers arrive on a slow machine, only when the test moves the clock.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const connectTimeoutMs = 400;
    const source = new HttpVideoSource([origin], fetch, connectTimeoutMs);
    const download = await source.open(`${origin}/video.mp4`);
    const reader = download.body.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value ?? []).toString()).toBe('ab');
    // Well past the connect time-out while the body is still streaming: a signal left armed would abort it here.
    vi.advanceTimersByTime(connectTimeoutMs * 10);
    const res = waiting.shift();
    res?.write('ab');
    res?.end('ab');
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      rest += Buffer.from(chunk.value).toString();
    expect(`ab${rest}`).toBe('ababab');
  });
});
