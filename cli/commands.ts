/**
 * The grammar of the `syncflow` commands: each flag is defined here once, and this
 * module imports nothing heavy, so that usage errors and `--help` cost no more than start-up. The
 * `server` command's flags live with the server (apiserver/options.ts).
 */
import type { CommandSpec, FlagSpec } from './flags.ts';

export const VALIDATE_FLAGS = {
  output: {
    short: 'o',
    value: 'FORMAT',
    choices: ['text', 'json'],
    default: 'text',
    description: 'text: one line per error; json: an array of {file, kind, name, field, message, code}',
  },
} as const satisfies Record<string, FlagSpec>;

/** `syncflow validate`. */
export const VALIDATE: CommandSpec = {
  name: 'validate',
  synopsis: 'FILE|DIR... [-o text|json]',
  summary:
    'Checks WorkflowTask and Workflow documents (YAML or JSON; directories recursively) without a cluster.\nExit 0 all valid, 1 any invalid, 2 usage or an unreadable path.',
  flags: VALIDATE_FLAGS,
};

/** Flags shared by `run` and `plan`. */
export const RUN_FLAGS = {
  filename: {
    short: 'f',
    value: 'FILE|DIR',
    multiple: true,
    description: 'definition files or directories; plain arguments right after -f are files too',
  },
  workflow: { short: 'w', value: 'NAME', description: 'the workflow to run (required)' },
  namespace: {
    short: 'n',
    value: 'NS',
    description: 'namespace of the workflow, when the files hold several',
  },
  input: {
    short: 'i',
    value: 'JSON|@file',
    description: 'workflow input as JSON, or @ and a YAML/JSON file (default {})',
  },
  output: {
    short: 'o',
    value: 'FORMAT',
    choices: ['yaml', 'json'],
    default: 'yaml',
    description: 'how the WorkflowExecution is printed: yaml or json',
  },
  secret: {
    value: 'SECRET/KEY=VALUE',
    multiple: true,
    description: 'value of key KEY of Secret SECRET, as secretKeyRef names them',
  },
  'secrets-file': {
    value: 'FILE',
    multiple: true,
    description: 'YAML/JSON map {SECRET: {KEY: VALUE}} or Kubernetes Secret documents',
  },
  'host-alias': {
    value: 'HOST=ADDRESS',
    multiple: true,
    description: 'resolve HOST to ADDRESS, e.g. to a local demo upstream',
  },
} as const satisfies Record<string, FlagSpec>;

/** Flags of `run` alone: step-through debug runs (parsed with the others by `run`, refused by `plan`). */
export const STEP_FLAGS = {
  step: {
    description:
      'debug run: pause before every task (or the --break tasks), show the resolved request and ask continue / skip <JSON> / abort',
  },
  break: {
    value: 'TASK[,TASK]',
    multiple: true,
    description: 'debug run pausing before these tasks only (implies --step)',
  },
} as const satisfies Record<string, FlagSpec>;

const RUN_SYNOPSIS =
  '-f FILE|DIR... --workflow NAME [--namespace NS] [--input JSON|@file] [-o yaml|json] [flags]';

/** `syncflow run`. */
export const RUN: CommandSpec = {
  name: 'run',
  synopsis: RUN_SYNOPSIS,
  summary:
    'Executes a workflow locally (no cluster) and prints the WorkflowExecution object.\nExit 0 Succeeded, 1 Failed, 2 usage or invalid definitions/input.',
  flags: { ...RUN_FLAGS, ...STEP_FLAGS },
  notes: 'Upstreams on loopback are allowed locally; link-local and metadata addresses are not.',
};

/** `syncflow plan`. */
export const PLAN: CommandSpec = {
  name: 'plan',
  synopsis: RUN_SYNOPSIS,
  summary:
    'Prints the dry-run plan (order, parallel groups, inputs and `when` results the input decides) as a\nWorkflowExecution with status.plan, as `kubectl create --dry-run=server` shows it. Calls nothing.',
  flags: RUN_FLAGS,
  notes:
    'Takes the arguments of `run`; secrets and host aliases are accepted and unused, since nothing is called.',
};

/** `syncflow server`: its flags are parsed and listed by the server (`syncflow server --help`). */
export const SERVER: CommandSpec = {
  name: 'server',
  synopsis: '[flags]   (syncflow server --help lists them)',
  summary: 'Runs the syncflow server.',
  flags: {},
};

/** `syncflow console`: the web console on loopback, its API calls forwarded with the kubeconfig's identity. */
export const CONSOLE: CommandSpec = {
  name: 'console',
  synopsis: '[--kubeconfig FILE] [--port P] [--open]',
  summary:
    "Serves the web console on 127.0.0.1 and forwards its Kubernetes API calls (and nothing else) with the\nkubeconfig's credentials. Prints the URL to open: it carries a secret made for this launch.",
  flags: {
    kubeconfig: {
      value: 'FILE',
      description: 'kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config)',
    },
    port: { short: 'p', value: 'P', default: '8001', description: 'port to listen on (0: any free port)' },
    address: {
      value: 'ADDRESS',
      default: '127.0.0.1',
      description: 'loopback address to listen on; any other is refused',
    },
    open: { description: 'open the URL in the default browser' },
  },
  notes: 'The console is served only on loopback; requests from another Origin or Host are refused.',
};

/** Flags of `syncflow map`. */
export const MAP_FLAGS = {
  filename: {
    short: 'f',
    value: 'FILE|DIR',
    multiple: true,
    description: 'definition files or directories; plain arguments are files too',
  },
  namespace: { short: 'n', value: 'NS', description: 'map this namespace only (default: every namespace)' },
  'cluster-label': {
    value: 'LABEL',
    description: 'split each namespace into regions by this label of the workflows (e.g. team)',
  },
  seed: { value: 'N', default: '1', description: 'another seed, another (equally stable) layout' },
  previous: {
    value: 'FILE',
    description: 'a layout printed before with -o json: its nodes keep their places, new ones are added',
  },
  output: {
    short: 'o',
    value: 'FORMAT',
    choices: ['text', 'json'],
    default: 'text',
    description: 'text: one line per cluster and node; json: {seed, nodes, links, clusters}',
  },
} as const satisfies Record<string, FlagSpec>;

/** `syncflow map`: the 3D network layout the console's live view draws (docs/live-view.md). */
export const MAP: CommandSpec = {
  name: 'map',
  synopsis: '-f FILE|DIR... [-n NS] [--cluster-label LABEL] [--seed N] [--previous FILE] [-o text|json]',
  summary:
    'Prints the 3D layout of the workflows of a namespace (each WorkflowTask once, dependencies as links,\nregions by namespace and label), seeded: the same on every run. Reads files; calls nothing.\nExit 0 printed, 1 nothing to map, 2 usage or invalid definitions.',
  flags: MAP_FLAGS,
};

/** The top level: `syncflow [-h] COMMAND ...`. */
export const TOP_LEVEL: CommandSpec = {
  name: '',
  synopsis: 'COMMAND [flags]   (syncflow COMMAND --help, or syncflow help COMMAND)',
  summary: 'syncflow — synchronous workflows on Kubernetes',
  flags: {},
};
