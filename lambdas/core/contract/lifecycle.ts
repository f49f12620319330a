/**
 * The job lifecycle (DESIGN section 2): RECEIVED -> VALIDATED -> QUEUED -> SUBMITTED -> GENERATED -> DELIVERED,
 * or FAILED / CANCELLED from any stage. The job record, the events, the CLI and the console all read it here.
 */

/** QUEUED: the job waits for a Runware slot (`maxConcurrentTasks`) or for Runware to take work again. */
export const STAGES = ['RECEIVED', 'VALIDATED', 'QUEUED', 'SUBMITTED', 'GENERATED', 'DELIVERED'] as const;
export type Stage = (typeof STAGES)[number];
/** The ends besides DELIVERED: FAILED (something went wrong) and CANCELLED (an operator stopped the job). */
export type JobStatus = Stage | 'FAILED' | 'CANCELLED';
