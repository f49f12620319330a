import type { JobStatus, Stage } from './errors.js';
import type { FileRole } from './keys.js';
import type { JobSettings } from './settings.js';

/** One object of the input bucket as the pipeline saw it. */
export interface FileRef {
  key: string;
  etag: string;
  size: number;
  /** S3 event sequencer, normalized (see `normalizeSequencer`). */
  sequencer: string;
}

export interface StoredFile extends FileRef {
  stem: string;
  role: FileRole;
  seenAt: string;
}

/** What validation learnt about the inputs. */
export interface MediaFacts {
  image: { format: string; width: number; height: number; bytes: number; sha256: string };
  audio: { format: string; durationSeconds: number; bytes: number; sha256: string };
}

/** One video Runware made for the job. */
export interface GenerationResult {
  videoUUID: string;
  /** When this result reached us (orders the outputs: `<stem>-1`, `<stem>-2`...). */
  receivedAt: string;
  videoURL: string;
  cost?: number;
  seed?: number;
}

export interface DeliveredOutput {
  key: string;
  bytes: number;
  videoUUID: string;
}

export interface JobError {
  stage: Stage;
  code: string;
  message: string;
  at: string;
}

/** A closed attempt, kept when a failed job is retried. */
export interface AttemptSummary {
  attempt: number;
  status: JobStatus;
  taskUUID?: string;
  error?: JobError;
  stages: Partial<Record<JobStatus, string>>;
}

/**
 * The job item in DynamoDB. A job is one stem with one image and one audio content; a re-drop of the same
 * bytes is the same job. `attempt` grows when a failed job is retried; per-attempt fields are reset then.
 */
export interface JobRecord {
  jobId: string;
  stem: string;
  attempt: number;
  status: JobStatus;
  /** Timestamp of each stage this attempt reached. */
  stages: Partial<Record<JobStatus, string>>;
  inputs: { image: FileRef; audio: FileRef; sidecar?: FileRef };
  executionName: string;
  executionArn?: string;
  /** Id of the event whose ingest created (claimed) this attempt: a retry of that event may start it. */
  claimedBy: string;
  media?: MediaFacts;
  settings?: JobSettings;
  /** ISO time after which the job fails with DEADLINE_EXCEEDED. Set at validation. */
  deadline?: string;
  taskUUID?: string;
  results?: GenerationResult[];
  costUsd?: number;
  /** With several results, the ones Runware could not make (the others were delivered). */
  partialFailures?: TaskError[];
  outputs?: DeliveredOutput[];
  error?: JobError;
  history?: AttemptSummary[];
  createdAt: string;
  updatedAt: string;
}

export interface TaskError {
  code: string;
  message: string;
}

/** The task lookup item: what the webhook and the poller need to complete a Runware task. */
export interface TaskRecord {
  taskUUID: string;
  jobId: string;
  attempt: number;
  numberResults: number;
  /** Step Functions task token of the waiting submit step. Rotated when the step is retried. */
  taskToken: string;
  /** Results received so far, keyed by videoUUID (webhooks are at-least-once and arrive in any order). */
  results: Record<string, GenerationResult>;
  /** Failures reported so far, keyed by a digest of the report (a duplicated delivery counts once). */
  errors: Record<string, TaskError>;
  /** Set once the waiting step was told the outcome. */
  completedAt?: string;
  createdAt: string;
}

/** Input of every step after ingest: the job is read from the table, the state carries only its id. */
export interface StepInput {
  jobId: string;
  attempt: number;
}
