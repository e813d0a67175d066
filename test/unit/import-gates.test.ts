/**
 * The import rules of eslint.config.js, checked on planted sources: each wrong-way import is refused
 * with the folder's rule, and the allowed ones pass.
 */
import { expect } from 'chai';
import { ESLint } from 'eslint';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

async function restricted(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax')
    .map((m) => m.message);
}

describe('import gates (eslint.config.js)', function () {
  // Loading typescript-eslint takes seconds on a loaded 2-core machine.
  this.timeout(60_000);

  const refused: Array<[file: string, code: string]> = [
    ['core/duration.ts', "import '../apiserver/app.ts';\n"],
    ['core/model/resources.ts', "import '../../history/store.ts';\n"],
    ['core/template/parser.ts', "import 'node:fs';\n"],
    ['client/index.ts', "import '../core/errors.ts';\n"],
    ['history/store.ts', "import '../controller/index.ts';\n"],
    ['controller/index.ts', "import '../apiserver/app.ts';\n"],
    ['admission/routes.ts', "import '../history/index.ts';\n"],
    ['kube/config.ts', "import '../apiserver/app.ts';\n"],
    ['adapters/http-client.ts', "import '../kube/config.ts';\n"],
    ['apiserver/app.ts', "import '../cli/io.ts';\n"],
    ['cli/plan.ts', "import '../apiserver/app.ts';\n"],
    ['cli/plan.ts', "export const load = () => import('../apiserver/server.ts');\n"],
    ['cli/server.ts', "import '../apiserver/server.ts';\n"],
  ];
  for (const [file, code] of refused) {
    it(`refuses in ${file}: ${code.trim()}`, async () => {
      expect(await restricted(file, code)).to.have.length(1);
    });
  }

  const allowed: Array<[file: string, code: string]> = [
    ['client/index.ts', "export type { WorkflowExecution } from '../core/model/execution.ts';\n"],
    ['controller/index.ts', "import '../kube/config.ts';\n"],
    [
      'kube/config.ts',
      "import type { StatusWriter } from '../controller/status-controller.ts';\nexport type { StatusWriter };\n",
    ],
    ['apiserver/app.ts', "import '../history/index.ts';\n"],
    ['cli/server.ts', "export const load = () => import('../apiserver/server.ts');\n"],
  ];
  for (const [file, code] of allowed) {
    it(`allows in ${file}: ${code.split('\n')[0]}`, async () => {
      expect(await restricted(file, code)).to.deep.equal([]);
    });
  }
});
