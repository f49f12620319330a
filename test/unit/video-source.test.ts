import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpVideoSource } from '../../lambdas/deliver/video-source.js';

describe('HttpVideoSource', () => {
  // Headers at once, then the body slowly: longer than the connect time-out in all.
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': '6' });
    res.flushHeaders();
    let sent = 0;
    const timer = setInterval(() => {
      res.write('ab');
      sent += 1;
      if (sent === 3) {
        clearInterval(timer);
        res.end();
      }
    }, 300);
  });
  let origin = '';
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('lets a video stream for longer than the connect time-out, which covers the headers only', async () => {
    const source = new HttpVideoSource([origin], fetch, 400);
    const download = await source.open(`${origin}/video.mp4`);
    const body = Buffer.from(await new Response(download.body).arrayBuffer()).toString();
    expect(body).toBe('ababab');
  });
});
