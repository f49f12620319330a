import type { JobRecord } from '../job.js';

/**
 * The public job record written next to the video as `<stem>.json`: what was made, from what, with which
 * settings, at what cost, and when each stage happened. Internal fields (claims, tokens) stay in the table.
 */
export function recordDocument(job: JobRecord) {
  const { image, audio, sidecar } = job.inputs;
  return {
    jobId: job.jobId,
    attempt: job.attempt,
    status: job.status,
    stem: job.stem,
    model: job.settings?.model,
    prompt: job.settings?.prompt ?? null,
    settings: job.settings,
    taskUUID: job.taskUUID,
    // The task was sent by an earlier attempt that ended without Runware's answer; it was paid for once.
    ...(job.adoptedTask ? { adoptedTask: job.adoptedTask } : {}),
    inputs: {
      image: { key: image.key, etag: image.etag, bytes: image.size, ...job.media?.image },
      audio: { key: audio.key, etag: audio.etag, bytes: audio.size, ...job.media?.audio },
      ...(sidecar ? { sidecar: { key: sidecar.key, etag: sidecar.etag, bytes: sidecar.size } } : {}),
    },
    costUsd: job.costUsd ?? null,
    // Runware reported no cost for some result: unknown, never 0; the budget counted the estimate instead.
    ...(job.costUnknown
      ? {
          costUnknown: true,
          costNote:
            'Runware reported no cost for this job, so what it charged is unknown; the estimate ' +
            '(estimatedCostUsd) was counted against the budget instead.',
        }
      : {}),
    // What validation estimated before anything was paid (and reserved against the budget), beside the cost.
    estimatedCostUsd: job.estimatedCostUsd ?? null,
    priceUsdPerSecond: job.priceUsdPerSecond ?? null,
    results: (job.results ?? []).map((result) => ({
      videoUUID: result.videoUUID,
      seed: result.seed ?? null,
      costUsd: result.cost ?? null,
      output: job.outputs?.find((o) => o.videoUUID === result.videoUUID)?.key ?? null,
    })),
    outputs: job.outputs ?? [],
    // The check of the delivered videos (tracks, length against the audio's, dimensions): a video with problems
    // is still delivered, since it was paid for.
    ...(job.outputCheck ? { outputCheck: job.outputCheck } : {}),
    // Delivered while the inbox held another job: archived, not shown (until its inputs are uploaded again).
    ...(job.notShown ? { notShown: job.notShown } : {}),
    ...(job.restoredAt ? { restoredAt: job.restoredAt } : {}),
    ...(job.partialFailures?.length ? { partialFailures: job.partialFailures } : {}),
    ...(job.error ? { error: job.error } : {}),
    stages: job.stages,
    executionName: job.executionName,
    ...(job.history?.length ? { previousAttempts: job.history } : {}),
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
  };
}
