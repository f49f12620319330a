import { isAllowedUrl, redactUrl } from '../core/contract/hosts.js';
import { DeliveryError, TransientError } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';

export interface VideoDownload {
  body: ReadableStream<Uint8Array>;
  contentType: string;
  /** From Content-Length, when the server sent one. */
  contentLength: number | undefined;
}

/** Opens a video URL for streaming, from allowed hosts only (redirects included). */
export interface VideoSource {
  open(url: string): Promise<VideoDownload>;
}

const MAX_REDIRECTS = 3;
const VIDEO_CONTENT_TYPES = /^(video\/[\w.+-]+|application\/octet-stream|binary\/octet-stream)\b/i;

export class HttpVideoSource implements VideoSource {
  constructor(
    private readonly allowedHosts: readonly string[],
    private readonly fetchImpl: typeof fetch = fetch,
    private readonly connectTimeoutMs = 30_000,
  ) {}

  async open(raw: string): Promise<VideoDownload> {
    let url = this.check(raw);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      let response: Response;
      // The time-out covers reaching the host and its answer's headers only: a signal that stayed armed would
      // also cut off the body, so any video taking longer than it to stream would end truncated.
      const connect = new AbortController();
      const timer = setTimeout(
        () => connect.abort(new DOMException('The connection timed out.', 'TimeoutError')),
        this.connectTimeoutMs,
      );
      try {
        response = await this.fetchImpl(url, { redirect: 'manual', signal: connect.signal });
      } catch (error) {
        throw new TransientError(
          'VIDEO_DOWNLOAD_FAILED',
          // fetch's own message may quote the whole URL, user and password included.
          `Could not reach ${redactUrl(url.href)} (${redactSecrets((error as Error).message)}).`,
        );
      } finally {
        clearTimeout(timer);
      }
      if (response.status >= 300 && response.status < 400 && response.headers.get('location')) {
        await response.body?.cancel();
        url = this.check(new URL(response.headers.get('location') ?? '', url).href);
        continue;
      }
      if (response.status === 404 || response.status === 410 || response.status === 403) {
        await response.body?.cancel();
        throw new DeliveryError(
          'VIDEO_NOT_FOUND',
          `Runware's video at ${redactUrl(url.href)} answered ${response.status}: it is gone or has expired. ` +
            'Retry the job to make it again.',
        );
      }
      if (!response.ok || !response.body) {
        await response.body?.cancel();
        throw new TransientError(
          'VIDEO_DOWNLOAD_FAILED',
          `Downloading ${redactUrl(url.href)} failed with HTTP ${response.status}.`,
        );
      }
      const contentType = response.headers.get('content-type') ?? 'application/octet-stream';
      if (!VIDEO_CONTENT_TYPES.test(contentType)) {
        await response.body.cancel();
        throw new DeliveryError(
          'VIDEO_WRONG_CONTENT_TYPE',
          `${redactUrl(url.href)} served "${contentType}", not a video. Nothing was stored; retry the job.`,
        );
      }
      const length = response.headers.get('content-length');
      return {
        body: response.body,
        contentType,
        contentLength: length === null ? undefined : Number(length),
      };
    }
    throw new DeliveryError(
      'VIDEO_TOO_MANY_REDIRECTS',
      `${redactUrl(raw)} redirected more than ${MAX_REDIRECTS} times.`,
    );
  }

  /** Refuses, before any request, a URL whose host is not on the allow list. */
  private check(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new DeliveryError('VIDEO_URL_INVALID', 'Runware returned a video URL that is not a valid URL.');
    }
    if (!isAllowedUrl(url, this.allowedHosts)) {
      throw new DeliveryError(
        'VIDEO_HOST_NOT_ALLOWED',
        `Refused to download the video from ${url.protocol}//${url.host}: that host is not in allowedVideoHosts ` +
          `(${this.allowedHosts.join(', ')}). If Runware moved its video hosts, add the new one to the setting.`,
      );
    }
    return url;
  }
}
