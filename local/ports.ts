import { createServer } from 'node:net';

/** What listens on each port of `--port-base N`, by offset from N (see `LocalStackOptions.portBase`). */
export const PORT_ROLES = ['S3', 'DynamoDB', 'Step Functions / Secrets Manager', 'webhook'] as const;

/** Ports of `--port-base` that something else already listens on: nothing was started. */
export class PortsTakenError extends Error {
  constructor(
    readonly portBase: number,
    readonly taken: readonly { port: number; role: string }[],
  ) {
    const list = taken.map((t) => `${t.port} (${t.role})`).join(', ');
    super(
      `--port-base ${portBase} needs ports ${portBase} to ${portBase + PORT_ROLES.length - 1} on 127.0.0.1, ` +
        `but ${taken.length === 1 ? 'this one is' : 'these are'} in use: ${list}. Another local stack ` +
        '(npm start -- --keep) may still be running: stop it (Ctrl-C), or choose another --port-base. ' +
        'Nothing was started.',
    );
    this.name = 'PortsTakenError';
  }
}

/** Whether `port` on 127.0.0.1 can be listened on now (false when another process holds it). */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Checks every port of `portBase` before anything starts, so that a taken one is a clear error naming the port
 * and its service, not a listen error halfway through the start-up (with some services already running).
 * @throws {PortsTakenError}
 */
export async function assertPortsFree(portBase: number): Promise<void> {
  const checks = await Promise.all(
    PORT_ROLES.map(async (role, offset) => ({
      port: portBase + offset,
      role,
      free: await isFree(portBase + offset),
    })),
  );
  const taken = checks.filter((c) => !c.free).map(({ port, role }) => ({ port, role }));
  if (taken.length > 0) throw new PortsTakenError(portBase, taken);
}
