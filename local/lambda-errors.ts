/** A function error as Lambda reports it: Step Functions matches `name` (the errorType) in Retry and Catch. */
export class LambdaFunctionError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
  ) {
    // `message` is what Step Functions puts in `Cause`: the JSON payload Lambda returns for a function error.
    super(JSON.stringify({ errorType, errorMessage }));
    this.name = errorType;
  }
}

/**
 * Lambda refused the invocation itself (the Invoke API answered an error status): the function never ran. A
 * `LambdaFunctionError` too, so that callers that pass function errors on (Step Functions) pass this one on as well.
 */
export class LambdaServiceError extends LambdaFunctionError {
  constructor(
    errorType: string,
    errorMessage: string,
    /** The Invoke API's HTTP status. */
    readonly statusCode: number,
  ) {
    super(errorType, errorMessage);
  }
}
