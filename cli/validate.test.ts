import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from './main.ts';

describe('syncflow validate', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncflow-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function run(...args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await main(args, {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      cwd: dir,
    });
    return { code, stdout, stderr };
  }

  const cases: Array<{
    name: string;
    file: string;
    content: string | Buffer;
    code: number;
    message: RegExp;
  }> = [
    { name: 'an empty file', file: 'empty.yaml', content: '', code: 1, message: /holds no documents/ },
    {
      name: 'a binary file',
      file: 'bin.yaml',
      content: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]),
      code: 1,
      message: /binary file/,
    },
    {
      name: 'invalid UTF-8',
      file: 'latin1.yaml',
      content: Buffer.from([0x6b, 0x3a, 0x20, 0xe9, 0x0a]),
      code: 1,
      message: /not valid UTF-8/,
    },
    {
      name: 'a 10 MB file',
      file: 'big.yaml',
      content: 'a: ' + 'x'.repeat(10 * 1024 * 1024),
      code: 1,
      message: /limited to 3 MiB/,
    },
    {
      name: 'an unknown kind',
      file: 'pod.yaml',
      content: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n',
      code: 1,
      message: /unknown kind `Pod`/,
    },
    {
      name: 'malformed YAML',
      file: 'bad.yaml',
      content: 'kind: [\n',
      code: 1,
      message: /malformed YAML at line/,
    },
  ];
  for (const c of cases) {
    it(`reports ${c.name} as one clear line, without a stack trace`, async () => {
      writeFileSync(join(dir, c.file), c.content);
      const result = await run('validate', c.file);
      expect(result.code).to.equal(c.code);
      expect(result.stdout).to.match(c.message);
      expect(result.stdout).to.match(new RegExp(`^${c.file}: `));
      expect(result.stdout + result.stderr).not.to.match(/\n\s+at /);
    });
  }

  it('reports a YAML alias bomb as a line naming its file and goes on with the other files', async () => {
    const letters = 'abcdefghij';
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      lines.push(
        `${letters[i]}: &${letters[i]} [${Array(10)
          .fill(`*${letters[i - 1]}`)
          .join(', ')}]`,
      );
    writeFileSync(join(dir, 'bomb.yaml'), lines.join('\n') + '\n');
    writeFileSync(join(dir, 'after-bomb.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n');
    const result = await run('validate', 'bomb.yaml', 'after-bomb.yaml');
    expect(result.code).to.equal(1);
    expect(result.stdout).to.match(/^bomb.yaml: -: \(document 1\): .*alias/m);
    expect(result.stdout).to.match(/after-bomb.yaml: Pod\/p: kind:/);
    expect(result.stdout + result.stderr).not.to.match(/\n\s+at /);
  });

  it('exits 2 for a path that cannot be read, and still reports the others', async () => {
    writeFileSync(join(dir, 'pod2.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n');
    const result = await run('validate', 'missing.yaml', 'pod2.yaml');
    expect(result.code).to.equal(2);
    expect(result.stdout).to.match(/missing.yaml: -: \(file\): cannot read: ENOENT/);
    expect(result.stdout).to.match(/pod2.yaml: Pod\/p: kind:/);
  });

  it('exits 2 with usage on misuse', async () => {
    for (const args of [
      ['validate'],
      ['validate', '--bogus', 'x'],
      ['validate', '-o', 'xml', 'x'],
      ['nope'],
      [],
    ]) {
      const result = await run(...args);
      expect(result.code, args.join(' ')).to.equal(2);
      expect(result.stderr + result.stdout).to.match(/usage/);
    }
  });

  it('prints -o json as an array of {file, kind, name, field, message, code}', async () => {
    mkdirSync(join(dir, 'defs'), { recursive: true });
    writeFileSync(
      join(dir, 'defs', 'task.yaml'),
      'apiVersion: syncflow.io/v1alpha1\nkind: WorkflowTask\nmetadata: {name: t}\nspec:\n  http: {method: GET, url: "http://x/{{input.a"}\n',
    );
    const result = await run('validate', '--output=json', 'defs');
    expect(result.code).to.equal(1);
    expect(JSON.parse(result.stdout)).to.deep.equal([
      {
        file: 'defs/task.yaml',
        kind: 'WorkflowTask',
        name: 't',
        field: 'spec.http.url',
        message: 'unclosed `{{`: add `}}` at column 10',
        code: 'TemplateSyntax',
      },
    ]);
  });

  it('reads JSON files and List documents', async () => {
    writeFileSync(
      join(dir, 'list.json'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'syncflow.io/v1alpha1',
            kind: 'WorkflowTask',
            metadata: { name: 'a' },
            spec: { http: { method: 'GET', url: 'http://x/' } },
          },
        ],
      }),
    );
    const result = await run('validate', 'list.json');
    expect(result.stdout).to.equal('1 documents valid\n');
    expect(result.code).to.equal(0);
  });

  it('prints help with exit 0', async () => {
    const result = await run('--help');
    expect(result.code).to.equal(0);
    expect(result.stdout).to.match(/syncflow validate/);
  });
});
