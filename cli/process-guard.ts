/**
 * Last-resort handlers of the server process. The engine turns its own failures into Failed
 * executions, so these fire only on a defect elsewhere; they decide what such a defect costs.
 */
import type { Logger } from '../core/logger.ts';

/** What the guard needs of the process (injected so tests need not touch the real one). */
export interface GuardedProcess {
  on(event: 'unhandledRejection' | 'uncaughtException', listener: (reason: unknown) => void): unknown;
}

/** Collaborators of {@link guardServerProcess}. */
export interface ProcessGuardOptions {
  process: GuardedProcess;
  logger: Pick<Logger, 'error'>;
  exit: (code: number) => void;
}

/**
 * A stray rejected promise is logged and the server keeps running: exiting would end every
 * execution in flight on the replica. An uncaught exception may have left state half-changed, so
 * it is logged and the process exits 1 (Kubernetes restarts it). Only the error's type and where it
 * was thrown are logged, never its message, which may quote an upstream's answer.
 */
export function guardServerProcess({ process, logger, exit }: ProcessGuardOptions): void {
  process.on('unhandledRejection', (reason) =>
    logger.error(describe(reason), 'unhandled promise rejection (a defect); the server keeps running'),
  );
  process.on('uncaughtException', (error) => {
    logger.error(describe(error), 'uncaught exception (a defect); exiting');
    exit(1);
  });
}

function describe(reason: unknown): Record<string, unknown> {
  if (!(reason instanceof Error)) return { kind: reason === null ? 'null' : typeof reason };
  const at = reason.stack?.split('\n').find((line) => line.trimStart().startsWith('at '));
  return { kind: reason.constructor.name, ...(at ? { at: at.trim() } : {}) };
}
