import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkLayout } from '../core/graph/network-layout.ts';
import { main } from './main.ts';

const task = (name: string, namespace = 'shop') => `apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  http: {method: GET, url: "https://example.com/${name}"}
---
`;

const workflow = (
  name: string,
  steps: string[][],
  labels = '{}',
  namespace = 'shop',
) => `apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: ${name}, namespace: ${namespace}, labels: ${labels}}
spec:
  tasks:
${steps.map(([id, ref, after]) => `    - {id: ${id}, taskRef: {name: ${ref}}${after ? `, dependsOn: [${after}]` : ''}}`).join('\n')}
---
`;

describe('syncflow map', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncflow-map-'));
    writeFileSync(
      join(dir, 'shop.yaml'),
      task('reserve') +
        task('charge') +
        task('ship') +
        task('audit', 'ops') +
        workflow(
          'order',
          [
            ['r', 'reserve'],
            ['c', 'charge', 'r'],
            ['s', 'ship', 'c'],
          ],
          '{team: sales}',
        ) +
        workflow(
          'pay',
          [
            ['c', 'charge'],
            ['s', 'ship', 'c'],
          ],
          '{team: sales}',
        ) +
        workflow('audit', [['a', 'audit']], '{}', 'ops'),
    );
    writeFileSync(join(dir, 'bad.yaml'), workflow('broken', [['x', 'nowhere']]));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function run(...args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await main(['map', ...args], {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      cwd: dir,
    });
    return { code, stdout, stderr };
  }

  it('prints the layout of a namespace as JSON: each WorkflowTask once, the links between them', async () => {
    const { code, stdout, stderr } = await run('-f', 'shop.yaml', '-n', 'shop', '-o', 'json');
    expect(stderr).to.equal('');
    expect(code).to.equal(0);
    const layout = JSON.parse(stdout) as NetworkLayout;
    expect(layout.nodes.map((n) => n.id)).to.deep.equal(['shop/charge', 'shop/reserve', 'shop/ship']);
    expect(layout.nodes.find((n) => n.id === 'shop/charge')?.workflows).to.deep.equal([
      'shop/order',
      'shop/pay',
    ]);
    expect(layout.links.map((l) => `${l.source}>${l.target}`)).to.deep.equal([
      'shop/charge>shop/ship',
      'shop/reserve>shop/charge',
    ]);
    for (const n of layout.nodes) expect([n.x, n.y, n.z].every(Number.isFinite)).to.equal(true);
  });

  it('prints the same layout on every run (seeded), and another one with another --seed', async () => {
    const a = await run('-f', 'shop.yaml', '-n', 'shop', '-o', 'json');
    const b = await run('-f', 'shop.yaml', '-n', 'shop', '-o', 'json');
    const c = await run('-f', 'shop.yaml', '-n', 'shop', '-o', 'json', '--seed', '7');
    expect(b.stdout).to.equal(a.stdout);
    expect(c.stdout).to.not.equal(a.stdout);
  });

  it('clusters by the label --cluster-label names, and maps every namespace without -n', async () => {
    const { code, stdout } = await run('-f', 'shop.yaml', '-o', 'json', '--cluster-label', 'team');
    expect(code).to.equal(0);
    const layout = JSON.parse(stdout) as NetworkLayout;
    expect(layout.clusters.map((c) => c.key)).to.deep.equal(['ops', 'shop/team=sales']);
    expect(layout.nodes).to.have.length(4);
  });

  it('keeps the places of a --previous layout', async () => {
    const first = await run('-f', 'shop.yaml', '-n', 'shop', '-o', 'json', '--seed', '3');
    const before = JSON.parse(first.stdout) as NetworkLayout;
    // The previous layout lacks ship: it is placed anew, the others stay where they were.
    before.nodes = before.nodes.filter((n) => n.id !== 'shop/ship');
    before.nodes[0]!.x += 100;
    writeFileSync(join(dir, 'previous.json'), JSON.stringify(before));
    const { code, stdout } = await run(
      '-f',
      'shop.yaml',
      '-n',
      'shop',
      '-o',
      'json',
      '--previous',
      'previous.json',
    );
    expect(code).to.equal(0);
    const after = JSON.parse(stdout) as NetworkLayout;
    for (const node of before.nodes)
      expect(after.nodes.find((n) => n.id === node.id)).to.include({ x: node.x, y: node.y, z: node.z });
  });

  it('prints one line per node in text, grouped by cluster', async () => {
    const { code, stdout } = await run('-f', 'shop.yaml', '-n', 'shop');
    expect(code).to.equal(0);
    expect(stdout).to.match(/^cluster shop at \(/m);
    expect(stdout).to.match(/^ {2}shop\/charge at \(.*\) used by order, pay$/m);
    expect(stdout).to.match(/^2 links$/m);
  });

  it('refuses invalid definitions with their errors (exit 2)', async () => {
    const { code, stderr } = await run('-f', 'bad.yaml');
    expect(code).to.equal(2);
    expect(stderr).to.match(/Workflow\/broken: spec\.tasks\[0\]\.taskRef\.name/);
  });

  it('says which namespaces exist when -n names none of them', async () => {
    const { code, stderr } = await run('-f', 'shop.yaml', '-n', 'shoop');
    expect(code).to.equal(1);
    expect(stderr).to.match(/no workflow in namespace shoop \(namespaces: ops, shop\)/);
  });

  it('refuses an unreadable or malformed --previous, naming the flag', async () => {
    writeFileSync(join(dir, 'junk.json'), '{"nodes": 3}');
    const missing = await run('-f', 'shop.yaml', '--previous', 'nope.json');
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.match(/--previous/);
    const junk = await run('-f', 'shop.yaml', '--previous', 'junk.json');
    expect(junk.code).to.equal(2);
    expect(junk.stderr).to.match(/--previous junk\.json: not a layout/);
  });

  it('asks for definitions when none are given', async () => {
    const { code, stderr } = await run('-n', 'shop');
    expect(code).to.equal(2);
    expect(stderr).to.match(/give definitions with -f/);
  });
});
