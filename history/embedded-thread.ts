/**
 * Entry of the embedded database's thread (started by embedded.ts): serves the database, says where
 * (or why it could not), and closes it when asked.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initialiseCluster, serveSession, type SessionOptions } from './embedded-session.ts';
import type { ThreadMessage } from './embedded.ts';

const port = parentPort;
if (port) {
  const post = (message: ThreadMessage) => port.postMessage(message);
  try {
    const task = workerData as SessionOptions & { initialiseOnly?: boolean };
    if (task.initialiseOnly) {
      const cluster = await initialiseCluster(task.dataDir);
      post({ type: 'initialised', ...(cluster ? { cluster } : {}) });
      port.close();
    } else {
      const session = await serveSession(task);
      port.on('message', (message: { type?: string }) => {
        if (message?.type !== 'close') return;
        session.close().then(
          () => {
            post({ type: 'closed' });
            port.close();
          },
          (error: unknown) => {
            post({ type: 'closed', error: String((error as Error)?.message ?? error) });
            port.close();
          },
        );
      });
      post({ type: 'ready', address: session.address, notificationsUnrouted: session.notificationsUnrouted });
    }
  } catch (error) {
    post({ type: 'failed', message: String((error as Error)?.message ?? error) });
    port.close();
  }
}
