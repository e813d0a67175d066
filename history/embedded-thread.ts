/**
 * Entry of the throwaway thread that initialises a new embedded cluster (started by embedded.ts):
 * runs initdb and answers with the pristine cluster, then ends, taking the memory initdb grew.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initialiseCluster } from './embedded-session.ts';
import type { ThreadMessage } from './embedded.ts';

const port = parentPort;
if (port) {
  const post = (message: ThreadMessage) => port.postMessage(message);
  try {
    const cluster = await initialiseCluster((workerData as { dataDir?: string }).dataDir);
    post({ type: 'initialised', ...(cluster ? { cluster } : {}) });
  } catch (error) {
    post({ type: 'failed', message: String((error as Error)?.message ?? error) });
  }
  port.close();
}
