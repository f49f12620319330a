import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Runware webhooks are not signed, so each task's webhook URL carries its own token: an HMAC of the task UUID
 * under a secret only this deployment knows. It is unguessable per task, needs no storage, and a token of one
 * task is useless for another.
 */
export function webhookToken(secret: string, taskUUID: string): string {
  return createHmac('sha256', secret).update(`runware-webhook:${taskUUID}`).digest('base64url');
}

/** Compares in constant time (over fixed-length digests, so the length of a guess leaks nothing either). */
export function verifyWebhookToken(secret: string, taskUUID: string, presented: string): boolean {
  const expected = createHmac('sha256', 'compare').update(webhookToken(secret, taskUUID)).digest();
  const actual = createHmac('sha256', 'compare').update(presented).digest();
  return timingSafeEqual(expected, actual);
}

export function webhookUrl(baseUrl: string, secret: string, taskUUID: string): string {
  const url = new URL(`${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(taskUUID)}`);
  url.searchParams.set('token', webhookToken(secret, taskUUID));
  return url.toString();
}
