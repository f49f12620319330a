import * as z from 'zod';
import { ConfigurationError } from './errors.js';

/**
 * Parses a function's configuration from the environment once, at load. A missing or malformed variable fails
 * the cold start with its name, instead of a confusing error halfway through a job.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigurationError(`Invalid function configuration (${problems}).`);
  }
  return parsed.data;
}

/** A comma-separated list in one environment variable. */
export const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);

export const positiveInt = z.coerce.number().int().positive();

/** An amount of USD (a budget limit; 0 is none). */
export const usdAmount = z.coerce.number().min(0).max(1_000_000);
