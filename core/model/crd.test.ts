import { expect } from 'chai';
import { workflowCrd, workflowTaskCrd } from './crd.ts';
import { toStructural } from './openapi.ts';
import { PRESERVE_UNKNOWN } from './schema.ts';

type Node = Record<string, unknown>;

/** Every schema node with its path, for structural-schema rules. */
function* walk(node: Node, path: string): Generator<[string, Node]> {
  yield [path, node];
  for (const [key, child] of Object.entries((node.properties as Record<string, Node>) ?? {}))
    yield* walk(child, `${path}.${key}`);
  if (node.items) yield* walk(node.items as Node, `${path}[]`);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    yield* walk(node.additionalProperties as Node, `${path}{}`);
  }
}

function schemaOf(crd: Node): Node {
  const version = (crd.spec as { versions: Array<{ schema: { openAPIV3Schema: Node } }> }).versions[0];
  return version?.schema.openAPIV3Schema as Node;
}

describe('generated CRDs', () => {
  for (const [name, crd] of [
    ['Workflow', workflowCrd()],
    ['WorkflowTask', workflowTaskCrd()],
  ] as const) {
    it(`${name}: is structural (every node typed unless it preserves unknown fields, no anyOf/const/additionalProperties:false)`, () => {
      for (const [path, node] of walk(schemaOf(crd), '')) {
        expect('anyOf' in node || 'const' in node || 'patternProperties' in node, path).to.equal(false);
        expect(node.additionalProperties, path).not.to.equal(false);
        const typed =
          typeof node.type === 'string' ||
          node[PRESERVE_UNKNOWN] === true ||
          node['x-kubernetes-int-or-string'] === true;
        expect(typed, `${path} has a type`).to.equal(true);
      }
    });
  }

  it('preserves unknown fields only where user JSON lives', () => {
    const preserved = [workflowCrd(), workflowTaskCrd()].flatMap((crd) =>
      [...walk(schemaOf(crd), '')].filter(([, node]) => node[PRESERVE_UNKNOWN]).map(([path]) => path),
    );
    expect(preserved.sort()).to.deep.equal(
      [
        '.spec.inputSchema',
        '.spec.tasks[].input',
        '.spec.output',
        '.spec.inputSchema',
        '.spec.outputSchema',
        '.spec.http.body',
        // A WebSocket task's templated message, like an HTTP body.
        '.spec.websocket.message',
      ].sort(),
    );
  });

  it('has the printer columns and short names of the design', () => {
    const columns = (crd: Node) =>
      (
        (crd.spec as { versions: Array<{ additionalPrinterColumns: Array<{ name: string }> }> }).versions[0]
          ?.additionalPrinterColumns ?? []
      ).map((c) => c.name);
    expect(columns(workflowCrd())).to.deep.equal(['Ready', 'Tasks', 'Revision', 'Age']);
    expect((workflowCrd().spec as { names: { shortNames: string[] } }).names.shortNames).to.deep.equal([
      'wf',
    ]);
    expect((workflowTaskCrd().spec as { names: { shortNames: string[] } }).names.shortNames).to.deep.equal([
      'wft',
    ]);
  });

  it('refuses unions that structural schemas cannot express', () => {
    expect(() => toStructural({ anyOf: [{ type: 'string' }, { type: 'integer' }] })).to.throw(
      /unions of literals/,
    );
  });
});
