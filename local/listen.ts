import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How local mode's own HTTP endpoints start and stop (the proxies, the AWS endpoint, the webhook endpoint). */

/** Listens on 127.0.0.1 (`port` 0: any free one) and answers the server's URL. */
export async function listenLocal(server: Server, port = 0): Promise<string> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Drops every open connection (close() alone waits for keep-alive ones to end on their own) and closes the server. */
export async function closeServer(server: Server | undefined): Promise<void> {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
}
