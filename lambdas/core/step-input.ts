import * as z from 'zod';
import { logger } from './aws/runtime.js';
import type { StepInput } from './job.js';

/** What the state machine passes to every step after ingest. */
export const StepInputSchema = z.object({
  jobId: z.string().regex(/^[0-9a-f]{32}$/),
  attempt: z.number().int().positive(),
});

/**
 * A state machine step's handler: validates the input, tags the logs with the job, runs the core, logs and
 * returns its output (which becomes the step's result).
 */
export function stepHandler<I extends StepInput, O extends object>(
  step: string,
  run: (input: I) => Promise<O>,
  schema: z.ZodType<I> = StepInputSchema as unknown as z.ZodType<I>,
): (event: unknown) => Promise<O> {
  return async (event) => {
    const input = schema.parse(event);
    logger.appendKeys({ jobId: input.jobId, attempt: input.attempt });
    const output = await run(input);
    logger.info(step, { output: output as Record<string, unknown> });
    return output;
  };
}
