import { JobStateError, StaleAttemptError } from './errors.js';
import type { JobRecord, StepInput } from './job.js';
import type { JobStore } from './store/jobs.js';

/** The job, if `input` names its current attempt and that attempt is still live. */
export async function loadAttempt(jobs: JobStore, input: StepInput): Promise<JobRecord> {
  const job = await jobs.get(input.jobId);
  if (!job) throw new JobStateError('JOB_NOT_FOUND', `No job ${input.jobId} in the table.`);
  if (job.attempt !== input.attempt || job.status === 'FAILED') {
    throw new StaleAttemptError(
      `Job ${input.jobId} attempt ${input.attempt} is over (the job is on attempt ${job.attempt}, ${job.status}).`,
    );
  }
  return job;
}
