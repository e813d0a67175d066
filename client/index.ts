/** The syncflow client for applications: run workflows and read their executions through Kubernetes. */
export { SyncflowClient } from './client.ts';
export type {
  CallOptions,
  ExecuteOptions,
  ExecutionWatch,
  ExecutionWatchEvent,
  ListOptions,
  RunResult,
  SyncflowClientOptions,
  WatchOptions,
  WorkflowExecution,
  WorkflowExecutionList,
  WorkflowExecutionOf,
} from './client.ts';
export { SyncflowApiError, SyncflowRunError } from './errors.ts';
export type { KubernetesStatus, RunProblem, StatusCause } from './errors.ts';
export { StreamClient } from './stream.ts';
export type {
  StreamClientMessage,
  StreamClientOptions,
  StreamExecuteRequest,
  StreamHandle,
  StreamSocket,
  StreamSocketFactory,
  StreamSubscribeRequest,
} from './stream.ts';
export type { StreamMessage, StreamStatus } from '../core/model/stream.ts';
