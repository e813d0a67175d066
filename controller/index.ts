/**
 * The definitions controller as the server runs it: the status controller, active while this replica
 * holds the Lease (or always, with leader election off — one replica, development).
 */
import type { DefinitionCatalog } from '../core/definitions/catalog.ts';
import type { KubeConfig } from '../kube/config.ts';
import { KubeEventRecorder, KubeLeaseClient, KubeStatusWriter } from '../kube/controller-clients.ts';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.ts';
import type { RevisionRecorder } from '../core/definitions/revision-recorder.ts';
import { DefinitionStatusController, type ControllerLogger } from './status-controller.ts';

/** Name of the Lease replicas elect a leader with. */
export const LEASE_NAME = 'syncflow-controller';

/** What the server passes in. */
export interface DefinitionControllerOptions {
  kubeConfig: KubeConfig;
  catalog: DefinitionCatalog;
  revisions: RevisionRecorder;
  logger: ControllerLogger;
  leaderElect: boolean;
  leaseNamespace: string;
  identity: string;
  /** Lease duration, renew deadline and retry period; client-go's defaults (15 s, 10 s, 2 s) when absent. */
  timings?: Pick<LeaderElectionOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>;
  /** Resolves once the informers have listed both kinds: before that, status would be judged on half a view. */
  synced: () => Promise<void>;
}

/** A running controller. */
export interface RunningController {
  isLeader(): boolean;
  stop(): Promise<void>;
}

/** Creates the controller (subscribing to the catalog at once) and starts electing. */
export function startDefinitionController(options: DefinitionControllerOptions): RunningController {
  const { kubeConfig, logger } = options;
  const controller = new DefinitionStatusController({
    catalog: options.catalog,
    writer: new KubeStatusWriter(kubeConfig),
    events: new KubeEventRecorder(kubeConfig, options.identity),
    revisions: options.revisions,
    logger,
  });
  let stopped = false;
  if (!options.leaderElect) {
    void options.synced().then(() => {
      if (stopped) return;
      logger.info(
        { identity: options.identity },
        'leader election off: this replica runs the definitions controller',
      );
      controller.start();
    });
    return {
      isLeader: () => true,
      stop: async () => {
        stopped = true;
        await controller.close();
      },
    };
  }
  const elector = new LeaderElector({
    identity: options.identity,
    client: new KubeLeaseClient(kubeConfig, options.leaseNamespace, LEASE_NAME),
    ...options.timings,
    onStartedLeading: () => {
      logger.info(
        { identity: options.identity, lease: `${options.leaseNamespace}/${LEASE_NAME}` },
        'became leader: running the definitions controller',
      );
      controller.start();
    },
    onStoppedLeading: () => {
      logger.info({ identity: options.identity }, 'no longer leader: definitions controller paused');
      void controller.stop();
    },
    onError: (error) =>
      logger.warn({ err: String((error as Error)?.message ?? error) }, 'leader election round failed'),
  });
  void options.synced().then(() => {
    if (!stopped) elector.start();
  });
  return {
    isLeader: () => elector.isLeader,
    async stop() {
      stopped = true;
      await elector.stop();
      await controller.close();
    },
  };
}
