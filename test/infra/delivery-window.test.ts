import { describe, expect, it } from 'vitest';
import {
  DELIVER_TIMEOUT_SECONDS,
  defaultResultTtlSeconds,
  minResultTtlSeconds,
  RECORD_TIMEOUT_SECONDS,
  retryWindowSeconds,
} from '../../lib/delivery-window.js';
import { parseSettings } from '../../lib/settings.js';

describe('the ttl floor: how long delivery may need the video', () => {
  it('counts every attempt to its task timeout and the longest pauses: 5 x (900 + 30) + 2 + 4 + 8 + 16', () => {
    expect(retryWindowSeconds(DELIVER_TIMEOUT_SECONDS)).toBe(4680);
    expect(retryWindowSeconds(RECORD_TIMEOUT_SECONDS)).toBe(255);
  });

  it('adds the hard deadline, the longest a finished video may wait before Record', () => {
    expect(minResultTtlSeconds(7200)).toBe(7200 + 255 + 4680);
    expect(minResultTtlSeconds(40)).toBe(40 + 255 + 4680);
  });

  it('defaults to that floor rounded up to a whole hour, never below it', () => {
    expect(defaultResultTtlSeconds(7200)).toBe(14_400);
    for (const deadline of [10, 40, 3600, 7200, 9000, 86_400]) {
      const ttl = defaultResultTtlSeconds(deadline);
      expect(ttl).toBeGreaterThanOrEqual(minResultTtlSeconds(deadline));
      expect(ttl - minResultTtlSeconds(deadline)).toBeLessThan(3600);
      expect(ttl % 3600).toBe(0);
    }
  });

  it('takes a deploy-wide ttl at or above the floor and follows the hard deadline by default', () => {
    expect(parseSettings({ resultTtlSeconds: '12135' }).resultTtlSeconds).toBe(12_135);
    expect(parseSettings({ hardDeadlineSeconds: '3600', waitTimeoutSeconds: '600' }).resultTtlSeconds).toBe(
      10_800,
    );
  });

  it('refuses a deploy-wide ttl below the floor, saying how to fix it', () => {
    expect(() => parseSettings({ resultTtlSeconds: '3600' })).toThrow(
      /Invalid setting "resultTtlSeconds": must be at least 12135 s: .* Raise it, or lower hardDeadlineSeconds/,
    );
  });
});
