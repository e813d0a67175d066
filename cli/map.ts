/**
 * `syncflow map`: the 3D layout of a namespace's workflows, as the console's live view draws it
 * (core/graph/network-layout.ts), for other tools: read-only, from definition files, calling nothing.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  layoutNetwork,
  type NetworkLayout,
  type NetworkWorkflow,
  type Point3,
} from '../core/graph/network-layout.ts';
import { MAP_FLAGS } from './commands.ts';
import { parseFlags } from './flags.ts';
import { EXIT, UsageError, type CliIO } from './io.ts';
import { formatLine, loadDocuments, validateLoaded } from './load.ts';

/** Runs `map`; returns 0 with the layout printed, 1 when there is nothing to map, 2 on misuse. */
export async function mapCommand(args: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(MAP_FLAGS, args);
  const files = [...values.filename, ...positionals.map((p) => p.value)];
  if (files.length === 0) throw new UsageError('give definitions with -f FILE|DIR');
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed ${values.seed}: give an integer`);
  const previous = values.previous === undefined ? undefined : await readPrevious(values.previous, io.cwd);

  const loaded = await loadDocuments(files, io.cwd);
  const { lines, workflows } = validateLoaded(loaded.documents);
  lines.unshift(...loaded.problems);
  if (lines.length > 0) {
    for (const line of lines) io.stderr.write(`${formatLine(line)}\n`);
    return EXIT.usage;
  }
  const labels = new Map<string, Record<string, string>>();
  for (const { doc } of loaded.documents) {
    const object = doc as {
      kind?: unknown;
      metadata?: { name?: string; namespace?: string; labels?: unknown };
    };
    if (object.kind !== 'Workflow') continue;
    const key = `${object.metadata?.namespace ?? 'default'}/${object.metadata?.name}`;
    labels.set(key, (object.metadata?.labels ?? {}) as Record<string, string>);
  }
  const network: NetworkWorkflow[] = [];
  for (const [key, workflow] of workflows) {
    const steps = [...workflow.steps.values()];
    network.push({
      namespace: workflow.namespace,
      name: workflow.name,
      labels: labels.get(key) ?? {},
      tasks: steps.map((s) => ({ id: s.id, taskRef: s.taskRef })),
      edges: steps.flatMap((s) => s.dependsOn.map((from) => ({ from, to: s.id }))),
    });
  }
  const namespace = values.namespace;
  const chosen = namespace === undefined ? network : network.filter((w) => w.namespace === namespace);
  if (chosen.length === 0) {
    const namespaces = [...new Set(network.map((w) => w.namespace))].sort();
    io.stderr.write(
      `no workflow in ${namespace === undefined ? 'the files' : `namespace ${namespace}`} (namespaces: ${namespaces.join(', ') || 'none'})\n`,
    );
    return EXIT.failed;
  }
  const layout = layoutNetwork(chosen, {
    seed,
    ...(values['cluster-label'] ? { clusterLabel: values['cluster-label'] } : {}),
    ...(previous ? { previous } : {}),
  });
  if (values.output === 'json') io.stdout.write(`${JSON.stringify(layout, null, 2)}\n`);
  else io.stdout.write(formatLayout(layout));
  return EXIT.ok;
}

function at(p: Point3): string {
  return `(${p.x.toFixed(1)}, ${p.y.toFixed(1)}, ${p.z.toFixed(1)})`;
}

/** One line per cluster, then one per node of it with the workflows that use it; the link count last. */
function formatLayout(layout: NetworkLayout): string {
  let text = '';
  for (const cluster of layout.clusters) {
    text += `cluster ${cluster.key} at ${at(cluster)}\n`;
    for (const node of layout.nodes.filter((n) => n.cluster === cluster.key))
      text += `  ${node.id} at ${at(node)} used by ${node.workflows.map((w) => w.slice(w.indexOf('/') + 1)).join(', ')}\n`;
  }
  return `${text}${layout.links.length} links\n`;
}

const MAX_PREVIOUS_BYTES = 16 * 1024 * 1024;

/** Reads a layout printed before with `-o json`; what the layout keeps (ids and places) is checked. */
async function readPrevious(file: string, cwd: string): Promise<NetworkLayout> {
  let text: string;
  try {
    const buffer = await readFile(resolve(cwd, file));
    if (buffer.length > MAX_PREVIOUS_BYTES) throw new UsageError(`--previous ${file}: larger than 16 MiB`);
    text = buffer.toString('utf8');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(
      `--previous ${file}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--previous ${file}: not JSON; give a layout printed by syncflow map -o json`);
  }
  const isPoint = (p: unknown) =>
    typeof p === 'object' &&
    p !== null &&
    ['x', 'y', 'z'].every((k) => Number.isFinite((p as Record<string, unknown>)[k]));
  const layout = value as Partial<NetworkLayout>;
  const valid =
    typeof value === 'object' &&
    value !== null &&
    Array.isArray(layout.nodes) &&
    layout.nodes.every((n) => isPoint(n) && typeof n.id === 'string') &&
    (layout.clusters === undefined ||
      (Array.isArray(layout.clusters) &&
        layout.clusters.every((c) => isPoint(c) && typeof c.key === 'string')));
  if (!valid)
    throw new UsageError(
      `--previous ${file}: not a layout (nodes need id, x, y, z): give one printed by syncflow map -o json`,
    );
  return { seed: 0, links: [], clusters: [], ...layout } as NetworkLayout;
}
