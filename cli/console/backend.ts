import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { CONTENT_TYPE_OF_FORMAT, type OutputFormat } from '../../lambdas/core/contract/job-settings.js';
import { archiveKeyOf } from '../../lambdas/core/contract/output-names.js';
import { PipelineError } from '../../lambdas/core/errors.js';
import type { FileRef, JobRecord } from '../../lambdas/core/job.js';
import { DEFAULT_MEDIA_LIMITS, inspectAudio } from '../../lambdas/core/media/inspect.js';
import { DynamoBudgetStore, utcDay, utcMonth } from '../../lambdas/core/store/budget.js';
import { DynamoSlotStore } from '../../lambdas/core/store/slots.js';
import { cancel } from '../commands/cancel.js';
import { operator } from '../commands/common.js';
import { retry } from '../commands/retry.js';
import { CliError, EXIT } from '../errors.js';
import { estimateCost, parseModel } from '../estimate-cost.js';
import type { PriceTable } from '../prices.js';
import type { Target } from '../target.js';

/**
 * What the console reads and does, over a {@link Target} (local or deployed), through the pipeline's own stores
 * and the CLI's own commands: the page's server knows only this interface, so its tests can give it another.
 */
export interface ConsoleBackend {
  /** `local (.local/endpoints.json)` or `stack AvatarPipeline (eu-west-1)`. */
  readonly description: string;
  jobs(): Promise<{ items: JobRecord[]; complete: boolean }>;
  job(jobId: string): Promise<JobRecord | undefined>;
  spend(now: Date): Promise<Spend>;
  slotsInUse(): Promise<number>;
  media(job: JobRecord): Promise<JobMedia>;
  retry(jobId: string): Promise<ActionOutcome>;
  cancel(jobId: string): Promise<ActionOutcome>;
  estimate(
    audio: Uint8Array,
    extension: string,
    results: number,
    model: string | undefined,
  ): Promise<EstimateView>;
  /** Origins the page's media come from (its content security policy allows them). */
  mediaOrigins(): Promise<string[]>;
}

export interface PeriodSpend {
  /** `YYYY-MM-DD` (UTC day) or `YYYY-MM` (UTC month). */
  period: string;
  spentUsd: number;
  reservedUsd: number;
  /** The limit, when the stack publishes it; 0 is no limit. */
  limitUsd?: number;
}

export interface Spend {
  today: PeriodSpend;
  month: PeriodSpend;
  /** `maxConcurrentTasks`, when the stack publishes it. */
  maxSlots?: number;
}

export interface MediaLink {
  url: string;
  contentType: string;
}

export interface JobMedia {
  image?: MediaLink & { key: string; normalized?: boolean };
  audio?: MediaLink & { key: string };
  videos: (MediaLink & { key: string; bytes: number })[];
  /** Why an input or a video is not shown (replaced in the inbox since, gone). */
  notes: string[];
  expiresInSeconds: number;
}

export interface ActionOutcome {
  job: JobRecord;
  message: string;
}

export interface EstimateView {
  audioSeconds: number;
  model: string;
  numberResults: number;
  usdPerSecond: number;
  estimatedUsd: number;
  priceTable: string;
}

/** An error the console answers with its status and message (anything else is a 500 without details). */
export class ConsoleError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 413,
    message: string,
  ) {
    super(message);
    this.name = 'ConsoleError';
  }
}

/** Limits the stack may publish as outputs (see docs/console.md): the page shows spend against them. */
export interface PublishedLimits {
  dailyBudgetUsd?: number;
  monthlyBudgetUsd?: number;
  maxConcurrentTasks?: number;
}

/** Reads the published limits from stack outputs; absent or unreadable ones stay unknown. */
export function limitsFromOutputs(outputs: Record<string, string> | undefined): PublishedLimits {
  const number = (name: string): number | undefined => {
    const value = Number(outputs?.[name]);
    return outputs?.[name] !== undefined && Number.isFinite(value) && value >= 0 ? value : undefined;
  };
  const daily = number('DailyBudgetUsd');
  const monthly = number('MonthlyBudgetUsd');
  const slots = number('MaxConcurrentTasks');
  return {
    ...(daily !== undefined ? { dailyBudgetUsd: daily } : {}),
    ...(monthly !== undefined ? { monthlyBudgetUsd: monthly } : {}),
    ...(slots !== undefined ? { maxConcurrentTasks: slots } : {}),
  };
}

/**
 * How long the page's media links live: long enough to watch a few videos, short enough that a copied link is
 * soon useless. The page asks for fresh ones when a link has expired.
 */
export const MEDIA_LINK_SECONDS = 600;

const AUDIO_TYPES: Record<string, string> = {
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  ogg: 'audio/ogg',
};
const IMAGE_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
};
const extensionOf = (key: string) => key.slice(key.lastIndexOf('.') + 1).toLowerCase();

export class TargetBackend implements ConsoleBackend {
  private readonly budget: DynamoBudgetStore;
  private readonly slots: DynamoSlotStore;
  private prices: Promise<PriceTable> | undefined;

  constructor(
    private readonly target: Target,
    private readonly options: {
      limits: PublishedLimits;
      readPrices: () => Promise<PriceTable>;
      /** Who the job records name as having cancelled or retried. @default `<user>@<host> (console)` */
      by?: string;
    },
  ) {
    this.budget = new DynamoBudgetStore(target.table);
    this.slots = new DynamoSlotStore(target.table);
  }

  get description(): string {
    return this.target.description;
  }

  jobs() {
    return this.target.jobs.list();
  }

  job(jobId: string) {
    return this.target.jobs.get(jobId);
  }

  async spend(now: Date): Promise<Spend> {
    const period = await this.budget.month(utcMonth(now));
    const day = period.days[utcDay(now)] ?? { spentUsd: 0, reservedUsd: 0 };
    const { dailyBudgetUsd, monthlyBudgetUsd, maxConcurrentTasks } = this.options.limits;
    return {
      today: {
        period: utcDay(now),
        ...day,
        ...(dailyBudgetUsd !== undefined ? { limitUsd: dailyBudgetUsd } : {}),
      },
      month: {
        period: period.month,
        spentUsd: period.spentUsd,
        reservedUsd: period.reservedUsd,
        ...(monthlyBudgetUsd !== undefined ? { limitUsd: monthlyBudgetUsd } : {}),
      },
      ...(maxConcurrentTasks !== undefined ? { maxSlots: maxConcurrentTasks } : {}),
    };
  }

  async slotsInUse(): Promise<number> {
    return (await this.slots.holders()).length;
  }

  private presign(bucket: string, key: string, contentType: string): Promise<string> {
    return getSignedUrl(
      this.target.s3,
      // The stored type may be missing (an upload without one) or `.archived`'s: the link says what it is.
      new GetObjectCommand({ Bucket: bucket, Key: key, ResponseContentType: contentType }),
      { expiresIn: MEDIA_LINK_SECONDS },
    );
  }

  /** The object's ETag, or undefined when it is not there. */
  private async etagOf(bucket: string, key: string): Promise<string | undefined> {
    try {
      const head = await this.target.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return (head.ETag ?? '').replace(/"/g, '');
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (error as Error).name === 'NotFound') return undefined;
      throw error;
    }
  }

  /** Whether the inbox still holds the job's own file (a later upload to the stem replaces it). */
  private async stillThere(ref: FileRef): Promise<'same' | 'changed' | 'gone'> {
    const etag = await this.etagOf(this.target.names.inputBucket, ref.key);
    if (etag === undefined) return 'gone';
    return etag === ref.etag ? 'same' : 'changed';
  }

  async media(job: JobRecord): Promise<JobMedia> {
    const { inputBucket, outputBucket } = this.target.names;
    const notes: string[] = [];
    const [image, audio] = await Promise.all([
      this.stillThere(job.inputs.image),
      this.stillThere(job.inputs.audio),
    ]);
    const media: JobMedia = { videos: [], notes, expiresInSeconds: MEDIA_LINK_SECONDS };
    const imageType = IMAGE_TYPES[extensionOf(job.inputs.image.key)] ?? 'application/octet-stream';
    if (image === 'same') {
      const key = job.inputs.image.key;
      media.image = { key, url: await this.presign(inputBucket, key, imageType), contentType: imageType };
    } else {
      // The copy made for Runware is this job's own image, whatever the inbox holds now.
      const normalized = job.media?.image.normalized?.key;
      const kept = normalized && (await this.etagOf(inputBucket, normalized)) !== undefined;
      if (normalized && kept)
        media.image = {
          key: normalized,
          normalized: true,
          url: await this.presign(inputBucket, normalized, 'image/jpeg'),
          contentType: 'image/jpeg',
        };
      notes.push(
        `The image ${job.inputs.image.key} ${image === 'changed' ? 'was replaced in the inbox' : 'is no longer in the inbox'} since this job${media.image ? ': shown is the copy made for Runware' : ''}.`,
      );
    }
    const audioType = AUDIO_TYPES[extensionOf(job.inputs.audio.key)] ?? 'application/octet-stream';
    if (audio === 'same') {
      const key = job.inputs.audio.key;
      media.audio = { key, url: await this.presign(inputBucket, key, audioType), contentType: audioType };
    } else
      notes.push(
        `The audio ${job.inputs.audio.key} ${audio === 'changed' ? 'was replaced in the inbox' : 'is no longer in the inbox'} since this job.`,
      );

    for (const [index, output] of (job.outputs ?? []).entries()) {
      const extension = extensionOf(output.key);
      const format = Object.keys(CONTENT_TYPE_OF_FORMAT).find((f) => f.toLowerCase() === extension) as
        | OutputFormat
        | undefined;
      const contentType = format ? CONTENT_TYPE_OF_FORMAT[format] : 'application/octet-stream';
      // The archive keeps this job's video whatever later jobs of the stem put under its name.
      const archived = archiveKeyOf(job.jobId, index, extension);
      const key = (await this.etagOf(outputBucket, archived)) !== undefined ? archived : output.key;
      if (key === output.key && job.notShown) {
        notes.push(`The video ${index + 1} of this job is not in the output bucket any more.`);
        continue;
      }
      media.videos.push({
        key: output.key,
        bytes: output.bytes,
        url: await this.presign(outputBucket, key, contentType),
        contentType,
      });
    }
    return media;
  }

  private by(): string {
    return this.options.by ?? `${operator()} (console)`;
  }

  async retry(jobId: string): Promise<ActionOutcome> {
    const outcome = await asConsoleError(() =>
      retry(this.target, jobId, {
        wait: false,
        timeoutSeconds: 1,
        progress: () => undefined,
        by: this.by(),
      }),
    );
    return { job: (outcome.json as { job: JobRecord }).job, message: outcome.text };
  }

  async cancel(jobId: string): Promise<ActionOutcome> {
    const outcome = await asConsoleError(() =>
      cancel(this.target, jobId, { by: this.by(), timeoutSeconds: 30 }),
    );
    return { job: (outcome.json as { job: JobRecord }).job, message: outcome.text };
  }

  async estimate(
    audio: Uint8Array,
    extension: string,
    results: number,
    model: string | undefined,
  ): Promise<EstimateView> {
    const chosen = await asConsoleError(async () => parseModel(model));
    let seconds: number;
    try {
      seconds = (await inspectAudio(audio, extension, DEFAULT_MEDIA_LIMITS)).durationSeconds;
    } catch (error) {
      if (error instanceof PipelineError) throw new ConsoleError(400, error.message);
      throw error;
    }
    this.prices ??= this.options.readPrices();
    const table = await this.prices;
    const estimate = estimateCost(seconds, chosen, results, table.prices);
    return {
      audioSeconds: estimate.audioSeconds,
      model: estimate.model,
      numberResults: estimate.numberResults,
      usdPerSecond: estimate.usdPerSecond,
      estimatedUsd: estimate.estimatedUsd,
      priceTable:
        table.source === 'defaults'
          ? `the default table${table.note ? ` (${table.note})` : ''}`
          : table.source,
    };
  }

  async mediaOrigins(): Promise<string[]> {
    const { inputBucket, outputBucket } = this.target.names;
    // Signing makes no call: the links' origins are known before any job is shown.
    const urls = await Promise.all(
      [inputBucket, outputBucket].map((bucket) => this.presign(bucket, 'probe', 'text/plain')),
    );
    return [...new Set(urls.map((url) => new URL(url).origin))];
  }
}

/** The CLI's refusals as the console's: unknown job 404, wrong state 409, bad argument 400. */
async function asConsoleError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof CliError) {
      const status = error.exitCode === EXIT.notFound ? 404 : error.exitCode === EXIT.wrongState ? 409 : 400;
      throw new ConsoleError(status, error.message);
    }
    throw error;
  }
}
