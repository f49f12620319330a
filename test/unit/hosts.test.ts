import { describe, expect, it } from 'vitest';
import { DEFAULT_ALLOWED_VIDEO_HOSTS, isAllowedUrl, redactUrl } from '../../lambdas/core/contract/hosts.js';

const allowedByDefault = (raw: string) => isAllowedUrl(new URL(raw), DEFAULT_ALLOWED_VIDEO_HOSTS);

describe('the default video hosts', () => {
  it.each([
    // The model page and all four real results.
    'https://vm.runware.ai/video/os/a15d18/ws/5/vi/267a2bde-25e5-48bc-9c2d-2823a2abe887.mp4',
    // The older getResponse and video API examples.
    'https://im.runware.ai/video/ws/0.5/vi/b7db282d-2943-4f12-992f-77df3ad3ec71.mp4',
    'https://VM.Runware.AI/video/x.mp4',
    'https://vm.runware.ai./video/x.mp4',
    'https://vm.runware.ai:443/video/x.mp4',
    'https://a.b.runware.ai/video/x.mp4',
  ])('allow Runware’s host in %s', (url) => {
    expect(allowedByDefault(url)).toBe(true);
  });

  it.each([
    ['a look-alike domain', 'https://evilrunware.ai/x.mp4'],
    ['Runware’s domain as a sub-domain of another', 'https://runware.ai.evil.com/x.mp4'],
    ['a look-alike with a hyphen', 'https://vm-runware.ai/x.mp4'],
    ['the bare domain', 'https://runware.ai/x.mp4'],
    ['an empty label', 'https://.runware.ai/x.mp4'],
    ['plain HTTP', 'http://vm.runware.ai/x.mp4'],
    ['another port', 'https://vm.runware.ai:8443/x.mp4'],
    ['user info', 'https://bob:hunter2@vm.runware.ai/x.mp4'],
    ['Runware’s host as user info', 'https://vm.runware.ai@evil.com/x.mp4'],
    ['an IP address', 'https://127.0.0.1/x.mp4'],
  ])('refuse %s', (_, url) => {
    expect(allowedByDefault(url)).toBe(false);
  });

  it('are frozen so no caller can widen them', () => {
    expect(Object.isFrozen(DEFAULT_ALLOWED_VIDEO_HOSTS)).toBe(true);
  });
});

describe('isAllowedUrl', () => {
  it('matches a plain host name exactly, over HTTPS only', () => {
    expect(isAllowedUrl(new URL('https://vm.runware.ai/v.mp4'), ['vm.runware.ai'])).toBe(true);
    expect(isAllowedUrl(new URL('https://im.runware.ai/v.mp4'), ['vm.runware.ai'])).toBe(false);
    expect(isAllowedUrl(new URL('https://xvm.runware.ai/v.mp4'), ['vm.runware.ai'])).toBe(false);
    expect(isAllowedUrl(new URL('http://vm.runware.ai/v.mp4'), ['vm.runware.ai'])).toBe(false);
  });

  it('matches an origin entry on scheme, host and port', () => {
    const sim = ['http://127.0.0.1:8089'];
    expect(isAllowedUrl(new URL('http://127.0.0.1:8089/video/v.mp4'), sim)).toBe(true);
    expect(isAllowedUrl(new URL('http://127.0.0.1:8090/video/v.mp4'), sim)).toBe(false);
    expect(isAllowedUrl(new URL('https://127.0.0.1:8089/video/v.mp4'), sim)).toBe(false);
  });

  it('ignores an entry that is not a valid origin', () => {
    expect(isAllowedUrl(new URL('https://vm.runware.ai/v.mp4'), ['http://[bad'])).toBe(false);
  });
});

describe('redactUrl', () => {
  it('keeps scheme, host and path, without user info, query or fragment', () => {
    expect(redactUrl('https://bob:pw@vm.runware.ai/v.mp4?X-Amz-Signature=abc#f')).toBe(
      'https://vm.runware.ai/v.mp4',
    );
    expect(redactUrl('not a url')).toBe('<invalid URL>');
  });
});
