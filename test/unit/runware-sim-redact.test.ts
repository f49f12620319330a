import { describe, expect, it } from 'vitest';
import { redactText } from '../../local/runware/redact.js';

describe("the simulator's redaction", () => {
  it('shows a URL it was sent without its query string, fragment, user or password', () => {
    expect(redactText('https://bob:pw@vm.runware.ai/v.mp4?X-Amz-Signature=abc#f')).toBe(
      'https://vm.runware.ai/v.mp4',
    );
    expect(redactText('http://127.0.0.1:4010/runware/1234?token=s3cret')).toBe(
      'http://127.0.0.1:4010/runware/1234',
    );
  });

  it('removes them from every URL in a text and leaves the rest alone', () => {
    expect(
      redactText(
        'fetch http://in.example/a.png?X-Amz-Signature=x failed; see https://docs.example/p@q, not ftp://x',
      ),
    ).toBe('fetch http://in.example/a.png failed; see https://docs.example/p@q, not ftp://x');
  });
});
