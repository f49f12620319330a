import { describe, expect, it } from 'vitest';
import {
  AckItemSchema,
  ErrorItemSchema,
  GetResponseItemSchema,
  InvalidWebhookBodyError,
  parseWebhookBody,
  ResponseEnvelopeSchema,
  stripUrlQueries,
  type VideoInferenceTask,
  VideoInferenceTaskSchema,
  VideoResultItemSchema,
  WebhookBodySchema,
} from '../../lambdas/core/runware/schemas.js';
import { loadRunwarePair, loadRunwarePairs, RUNWARE_PAIR_SLUGS } from '../fixtures/runware/pairs.js';

const validTask = (): VideoInferenceTask => ({
  taskType: 'videoInference',
  taskUUID: '3b241101-e2bb-4255-8caf-4136c566a962',
  model: 'klingai:avatar@2.0-pro',
  positivePrompt: 'A calm presenter speaking to camera.',
  inputs: {
    image: 'https://bucket.s3.eu-west-1.amazonaws.com/in/face.jpg?X-Amz-Signature=abc',
    audio: 'https://bucket.s3.eu-west-1.amazonaws.com/in/voice.mp3?X-Amz-Signature=def',
  },
  outputType: 'URL',
  outputFormat: 'MP4',
  outputQuality: 95,
  deliveryMethod: 'async',
  webhookURL: 'https://abc.execute-api.eu-west-1.amazonaws.com/prod/webhook?token=t',
  ttl: 3600,
  includeCost: true,
  numberResults: 1,
  safety: { checkContent: true, mode: 'fast' },
});

describe('the real request/response pairs from the model page', () => {
  it('has all four pairs as fixtures', () => {
    expect(RUNWARE_PAIR_SLUGS).toHaveLength(4);
  });

  describe.each(RUNWARE_PAIR_SLUGS)('%s', (slug) => {
    it('its request is a valid videoInference task', () => {
      const { request } = loadRunwarePair(slug);
      expect(VideoInferenceTaskSchema.parse(request)).toEqual(request);
    });

    it('its response is a valid video result item', () => {
      const { response } = loadRunwarePair(slug);
      const result = VideoResultItemSchema.parse(response);
      expect(result.videoURL).toMatch(/^https:\/\/vm\.runware\.ai\//);
      expect(result.cost).toBeGreaterThan(0);
    });

    it('its response belongs to its request', () => {
      const { request, response } = loadRunwarePair(slug);
      expect(VideoResultItemSchema.parse(response).taskUUID).toBe(
        VideoInferenceTaskSchema.parse(request).taskUUID,
      );
    });

    it('its response is accepted as a webhook body in the envelope form', () => {
      const { response } = loadRunwarePair(slug);
      expect(parseWebhookBody({ data: [response] })).toEqual({ results: [response], errors: [] });
    });

    it('its response is accepted as a webhook body in the bare form', () => {
      const { response } = loadRunwarePair(slug);
      expect(parseWebhookBody(response)).toEqual({ results: [response], errors: [] });
    });

    it('its response is a valid success item of a getResponse reply', () => {
      const { response } = loadRunwarePair(slug);
      expect(GetResponseItemSchema.safeParse({ ...(response as object), status: 'success' }).success).toBe(
        true,
      );
    });
  });
});

describe('VideoInferenceTaskSchema', () => {
  it('accepts a task with every supported option', () => {
    expect(VideoInferenceTaskSchema.safeParse(validTask()).success).toBe(true);
  });

  it('accepts a task with only the required fields', () => {
    const { taskType, taskUUID, model, inputs } = validTask();
    expect(VideoInferenceTaskSchema.safeParse({ taskType, taskUUID, model, inputs }).success).toBe(true);
  });

  it('accepts media given as UUIDs of uploads to Runware', () => {
    const task = {
      ...validTask(),
      inputs: {
        image: '6ec0bd7f-11c0-43da-975e-2a8ad9ebae0b',
        audio: 'c0a80121-7ac0-4e1c-9d4a-1a2b3c4d5e6f',
      },
    };
    expect(VideoInferenceTaskSchema.safeParse(task).success).toBe(true);
  });

  it('accepts the standard model too', () => {
    expect(
      VideoInferenceTaskSchema.safeParse({ ...validTask(), model: 'klingai:avatar@2.0-standard' }).success,
    ).toBe(true);
  });

  it('accepts a prompt of exactly 2500 characters', () => {
    expect(
      VideoInferenceTaskSchema.safeParse({ ...validTask(), positivePrompt: 'a'.repeat(2500) }).success,
    ).toBe(true);
  });

  it.each([
    ['a prompt of 2501 characters', { positivePrompt: 'a'.repeat(2501) }],
    ['an empty prompt', { positivePrompt: '' }],
    ['quality 19', { outputQuality: 19 }],
    ['quality 100', { outputQuality: 100 }],
    ['a fractional quality', { outputQuality: 90.5 }],
    ['numberResults 5', { numberResults: 5 }],
    ['numberResults 0', { numberResults: 0 }],
    ['an unknown field', { negativePrompt: 'blurry' }],
    ['an uploadEndpoint (unreliable with presigned S3 PUTs)', { uploadEndpoint: 'https://example.com/put' }],
    ['an unknown output format', { outputFormat: 'GIF' }],
    ['a ttl under 60 s', { ttl: 59 }],
    ['another model', { model: 'klingai:5@3' }],
    ['another task type', { taskType: 'imageInference' }],
    ['a taskUUID that is not a UUID', { taskUUID: 'job-123' }],
    ['a webhook that is not http(s)', { webhookURL: 'ftp://example.com/hook' }],
    ['an unknown safety mode', { safety: { mode: 'paranoid' } }],
  ])('rejects %s', (_, change) => {
    expect(VideoInferenceTaskSchema.safeParse({ ...validTask(), ...change }).success).toBe(false);
  });

  it.each([
    ['an image that is neither URL nor UUID', { image: 'face.jpg', audio: 'https://example.com/a.mp3' }],
    [
      'an input URL with a non-http scheme',
      { image: 'file:///etc/passwd', audio: 'https://example.com/a.mp3' },
    ],
    ['a missing audio', { image: 'https://example.com/a.jpg' }],
    [
      'an unknown input',
      { image: 'https://example.com/a.jpg', audio: 'https://example.com/a.mp3', video: 'x' },
    ],
  ])('rejects inputs with %s', (_, inputs) => {
    expect(VideoInferenceTaskSchema.safeParse({ ...validTask(), inputs }).success).toBe(false);
  });
});

describe('response item schemas', () => {
  it('keeps fields Runware adds to an acknowledgement', () => {
    const ack = AckItemSchema.parse({ taskType: 'videoInference', taskUUID: 'u', queuePosition: 3 });
    expect(ack).toEqual({ taskType: 'videoInference', taskUUID: 'u', queuePosition: 3 });
  });

  it('tolerates fields Runware adds to a result item', () => {
    const { response } = loadRunwarePair('midnight-broadcast-chess-commentator');
    const withExtra = {
      ...(response as object),
      seed: 42,
      NSFWContent: false,
      status: 'success',
      newField: 'x',
    };
    expect(VideoResultItemSchema.parse(withExtra)).toEqual(withExtra);
  });

  it('refuses a result item whose videoURL is not a URL', () => {
    const { response } = loadRunwarePair('midnight-broadcast-chess-commentator');
    expect(VideoResultItemSchema.safeParse({ ...(response as object), videoURL: 'nope' }).success).toBe(
      false,
    );
  });

  it('reads an error item with every documented field and tolerates more', () => {
    const item = {
      code: 'invalidPositivePrompt',
      message: 'Invalid value for positivePrompt parameter.',
      parameter: 'positivePrompt',
      taskType: 'videoInference',
      taskUUID: 'u',
      documentation: 'https://runware.ai/docs',
      extra: 1,
    };
    expect(ErrorItemSchema.parse(item)).toEqual(item);
  });

  it('reads envelopes with data, with errors, and refuses one with neither', () => {
    expect(ResponseEnvelopeSchema.safeParse({ data: [] }).success).toBe(true);
    expect(ResponseEnvelopeSchema.safeParse({ errors: [{ code: 'c', message: 'm' }] }).success).toBe(true);
    expect(ResponseEnvelopeSchema.safeParse({}).success).toBe(false);
    expect(ResponseEnvelopeSchema.safeParse([]).success).toBe(false);
  });

  it.each(['processing', 'pending', 'success', 'error', 'queued-in-a-way-we-do-not-know'])(
    'reads a getResponse item with status %s',
    (status) => {
      expect(GetResponseItemSchema.parse({ taskUUID: 'u', status, progress: 40 }).status).toBe(status);
    },
  );

  it('reads a failed getResponse item with its error', () => {
    const item = GetResponseItemSchema.parse({
      taskUUID: 'u',
      status: 'error',
      error: { code: 'providerError', message: 'Face not detected' },
    });
    expect(item.error).toEqual({ code: 'providerError', message: 'Face not detected' });
  });
});

describe('parseWebhookBody', () => {
  it('returns every result of a multi-item envelope', () => {
    const responses = loadRunwarePairs().map((p) => p.response);
    expect(parseWebhookBody({ data: responses }).results).toHaveLength(4);
  });

  it('returns the errors of an error envelope with URL query strings removed', () => {
    const body = {
      errors: [
        {
          code: 'failedToDownloadImage',
          message: 'Could not fetch https://b.s3.amazonaws.com/in/face.jpg?X-Amz-Signature=SECRET: 403',
          parameter: 'inputs.image',
          taskUUID: 'u',
        },
      ],
    };
    const { results, errors } = parseWebhookBody(body);
    expect(results).toEqual([]);
    expect(errors).toEqual([
      {
        code: 'failedToDownloadImage',
        message: 'Could not fetch https://b.s3.amazonaws.com/in/face.jpg: 403',
        parameter: 'inputs.image',
        taskUUID: 'u',
      },
    ]);
  });

  it('returns a bare error item as an error', () => {
    expect(
      parseWebhookBody({ code: 'timeout', message: 'Provider timed out', taskUUID: 'u' }).errors,
    ).toEqual([{ code: 'timeout', message: 'Provider timed out', taskUUID: 'u' }]);
  });

  it('treats an envelope that happens to carry a code field as an envelope', () => {
    const { response } = loadRunwarePair('weathered-radio-host-portrait');
    expect(parseWebhookBody({ data: [response], code: 'x', message: 'y' })).toEqual({
      results: [response],
      errors: [],
    });
  });

  it.each([
    ['an empty object', {}],
    ['null', null],
    ['a string', 'hello'],
    ['an array', []],
    ['an acknowledgement without a video', { data: [{ taskType: 'videoInference', taskUUID: 'u' }] }],
    [
      'a result whose videoURL is not a URL',
      { taskType: 'videoInference', taskUUID: 'u', videoUUID: 'v', videoURL: 'x' },
    ],
  ])('throws a typed error on %s', (_, body) => {
    expect(() => parseWebhookBody(body)).toThrow(InvalidWebhookBodyError);
  });

  it('says where a malformed envelope went wrong', () => {
    const { response } = loadRunwarePair('weathered-radio-host-portrait');
    expect(() => parseWebhookBody({ data: [{ ...(response as object), videoURL: 'x' }] })).toThrow(
      /data\.0\.videoURL/,
    );
  });

  it('agrees with WebhookBodySchema on what is a valid body', () => {
    const { response } = loadRunwarePair('brass-clockmaker-portrait-study');
    expect(WebhookBodySchema.safeParse(response).success).toBe(true);
    expect(WebhookBodySchema.safeParse({ data: [response] }).success).toBe(true);
    expect(WebhookBodySchema.safeParse({}).success).toBe(false);
  });
});

describe('bounds on what comes back', () => {
  const { response } = loadRunwarePair('midnight-broadcast-chess-commentator');
  const base = response as Record<string, unknown>;

  it.each([
    ['a negative cost', { cost: -1 }],
    ['a cost over 10,000 USD', { cost: 10_001 }],
    ['a denormal cost DynamoDB cannot store', { cost: 5e-324 }],
    ['an empty videoUUID', { videoUUID: '' }],
    ['an empty taskUUID', { taskUUID: '' }],
    ['a videoUUID of 129 characters', { videoUUID: 'x'.repeat(129) }],
    ['a videoURL over 2,048 characters', { videoURL: `https://vm.runware.ai/${'v'.repeat(2048)}` }],
    ['a seed that is not an integer', { seed: 0.5 }],
  ])('refuses a result item with %s, and the webhook body that carries it', (_, change) => {
    expect(VideoResultItemSchema.safeParse({ ...base, ...change }).success).toBe(false);
    expect(GetResponseItemSchema.safeParse({ ...base, ...change }).success).toBe(false);
    expect(() => parseWebhookBody({ data: [{ ...base, ...change }] })).toThrow(InvalidWebhookBodyError);
  });

  it('accepts a free result and the largest cost allowed', () => {
    expect(VideoResultItemSchema.safeParse({ ...base, cost: 0 }).success).toBe(true);
    expect(VideoResultItemSchema.safeParse({ ...base, cost: 10_000 }).success).toBe(true);
  });

  it('reads a parameter given as a list of the fields involved', () => {
    expect(ErrorItemSchema.parse({ code: 'c', message: 'm', parameter: ['width', 'height'] }).parameter).toBe(
      'width, height',
    );
  });
});

describe('stripUrlQueries', () => {
  it('is the one redaction: it also removes user info', () => {
    expect(stripUrlQueries('see https://bob:pw@vm.runware.ai/v.mp4')).toBe(
      'see https://[redacted]@vm.runware.ai/v.mp4',
    );
  });

  it('removes query strings and fragments from every URL and leaves the rest of the text alone', () => {
    expect(
      stripUrlQueries('a https://x.io/p?sig=1&b=2, then "http://y.io/q#frag" and https://z.io/plain end?'),
    ).toBe('a https://x.io/p, then "http://y.io/q" and https://z.io/plain end?');
  });
});
