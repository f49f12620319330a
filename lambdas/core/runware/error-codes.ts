/**
 * The job error codes of Runware's answers, with no imports: the client raises them, and the attempt rule reads
 * which of them are Runware's definite word about a task.
 */

/** Job error codes this client raises, as carried by {@link TransientError} and {@link RunwareRejectedError}. */
export const RUNWARE_ERROR_CODES = {
  /** HTTP 429: Runware's queue for the model is full. Transient. */
  busy: 'RUNWARE_BUSY',
  /** HTTP 408 or 504, or no answer within `timeoutMs`. Transient. */
  timeout: 'RUNWARE_TIMEOUT',
  /** Any other 5xx. Transient. */
  unavailable: 'RUNWARE_UNAVAILABLE',
  /** The request never got an HTTP answer (DNS, TLS, connection reset). Transient. */
  network: 'RUNWARE_NETWORK',
  /** A 2xx whose body is not a Runware reply. Transient. */
  badResponse: 'RUNWARE_BAD_RESPONSE',
  /** HTTP 400 / 422: Runware refused a parameter. Final. */
  invalidRequest: 'RUNWARE_INVALID_REQUEST',
  /** HTTP 401 / 403: the API key is wrong or revoked. Final. */
  unauthorized: 'RUNWARE_UNAUTHORIZED',
  /** HTTP 402: the Runware account is out of credit. Final. */
  insufficientBalance: 'RUNWARE_INSUFFICIENT_BALANCE',
  /** HTTP 404. Final. */
  notFound: 'RUNWARE_NOT_FOUND',
  /** Any other refusal, including a 2xx that carries an `errors` array. Final. */
  rejected: 'RUNWARE_REJECTED',
  /** Runware accepted the task and then reported that it failed (webhook or poll). Final. */
  taskFailed: 'RUNWARE_TASK_FAILED',
} as const;
export type RunwareErrorCode = (typeof RUNWARE_ERROR_CODES)[keyof typeof RUNWARE_ERROR_CODES];

/** The job error code (and what to do, where the operator can act) for a Runware refusal's HTTP status. */
export function rejectionKind(status: number): { code: RunwareErrorCode; advice?: string } {
  switch (status) {
    case 400:
    case 422:
      return { code: RUNWARE_ERROR_CODES.invalidRequest };
    case 401:
    case 403:
      return {
        code: RUNWARE_ERROR_CODES.unauthorized,
        advice: 'Check that the Runware API key secret holds a valid, active key, then retry the job.',
      };
    case 402:
      return {
        code: RUNWARE_ERROR_CODES.insufficientBalance,
        advice: 'Top up your Runware balance, then retry the job.',
      };
    case 404:
      return { code: RUNWARE_ERROR_CODES.notFound };
    default:
      return { code: RUNWARE_ERROR_CODES.rejected };
  }
}
