// One Lambda execution environment of local mode: loads one bundle that `cdk synth` produced and runs its
// handler for each invocation the parent sends, one at a time, like the Lambda runtime does.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const [bundle, exportName, functionName, timeoutMs] = process.argv.slice(2);
const module = await import(pathToFileURL(bundle).href);
const handler = module[exportName];
if (typeof handler !== 'function') throw new Error(`${bundle} exports no function ${exportName}`);

process.on('message', async ({ id, event, responseLimit }) => {
  const started = Date.now();
  const context = {
    functionName,
    functionVersion: '$LATEST',
    awsRequestId: randomUUID(),
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    getRemainingTimeInMillis: () => Number(timeoutMs) - (Date.now() - started),
    callbackWaitsForEmptyEventLoop: true,
  };
  try {
    const result = await handler(event, context);
    // Measured here, where the result is serialized anyway, so that an oversized one never crosses the channel.
    // Lambda: "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    // (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html: 6 MB for a synchronous response)
    if (responseLimit !== undefined) {
      const bytes = Buffer.byteLength(JSON.stringify(result) ?? 'null', 'utf8');
      if (bytes > responseLimit) {
        process.send({
          id,
          error: {
            errorType: 'Function.ResponseSizeTooLarge',
            errorMessage: `Response payload size exceeded maximum allowed payload size (${responseLimit} bytes).`,
          },
        });
        return;
      }
    }
    process.send({ id, result: result === undefined ? null : result });
  } catch (error) {
    // The shape Lambda reports for a function error; Step Functions sees errorType as `Error`.
    const errorType = error instanceof Error ? error.name : 'Error';
    const errorMessage = error instanceof Error ? error.message : String(error);
    const trace = error instanceof Error && error.stack ? error.stack.split('\n') : [];
    process.send({ id, error: { errorType, errorMessage, trace } });
  }
});
process.send({ ready: true });
