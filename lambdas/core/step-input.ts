import { z } from 'zod';

/** What the state machine passes to every step after ingest. */
export const StepInputSchema = z.object({
  jobId: z.string().regex(/^[0-9a-f]{32}$/),
  attempt: z.number().int().positive(),
});
