/**
 * Reads WorkflowTask and Workflow documents from files and directories for the CLI, turning every
 * file problem (missing, binary, too large, malformed YAML, empty) into a report line.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { CompiledWorkflow } from '../core/definitions/compile.ts';
import { messageWithSuggestion, type ErrorCode } from '../core/errors.ts';
import { validateDocuments } from '../core/validation/validate.ts';

/** Definition files larger than this are refused: etcd stores objects up to 1.5 MiB anyway. */
export const MAX_FILE_BYTES = 3 * 1024 * 1024;
const EXTENSIONS = /\.(ya?ml|json)$/i;

/** One parsed document and where it came from. */
export interface LoadedDocument {
  file: string;
  /** 1-based position of the document in its file. */
  position: number;
  doc: unknown;
}

/** One line of a validation report, as printed by `syncflow validate`. */
export interface ReportLine {
  file: string;
  kind: string;
  name: string;
  field: string;
  message: string;
  code: ErrorCode;
}

/** The documents found, the problems met, and whether any path was unusable (exit code 2). */
export interface LoadResult {
  documents: LoadedDocument[];
  problems: ReportLine[];
  unreadable: boolean;
}

async function expand(path: string, out: string[]): Promise<void> {
  const info = await stat(path);
  if (!info.isDirectory()) {
    out.push(path);
    return;
  }
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await expand(child, out);
    else if (EXTENSIONS.test(entry.name)) out.push(child);
  }
}

function fileProblem(file: string, code: ErrorCode, message: string): ReportLine {
  return { file, kind: '', name: '', field: '(file)', message, code };
}

/** Loads every document of the given files and directories (directories recursively). */
export async function loadDocuments(paths: readonly string[], cwd: string): Promise<LoadResult> {
  const result: LoadResult = { documents: [], problems: [], unreadable: false };
  for (const path of paths) {
    const files: string[] = [];
    try {
      await expand(resolve(cwd, path), files);
    } catch (error) {
      result.unreadable = true;
      result.problems.push(
        fileProblem(
          path,
          'ParseError',
          `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        ),
      );
      continue;
    }
    if (files.length === 0) {
      result.problems.push(fileProblem(path, 'ParseError', 'directory holds no .yaml, .yml or .json files'));
    }
    for (const absolute of files) {
      const file = absolute.startsWith(cwd + '/') ? absolute.slice(cwd.length + 1) : absolute;
      await loadFile(absolute, file, result);
    }
  }
  return result;
}

async function loadFile(absolute: string, file: string, result: LoadResult): Promise<void> {
  let bytes: Buffer;
  try {
    const info = await stat(absolute);
    if (info.size > MAX_FILE_BYTES) {
      result.problems.push(
        fileProblem(
          file,
          'ParseError',
          `file is ${(info.size / 1024 / 1024).toFixed(1)} MiB; definitions are limited to 3 MiB`,
        ),
      );
      return;
    }
    bytes = await readFile(absolute);
  } catch (error) {
    result.unreadable = true;
    result.problems.push(
      fileProblem(
        file,
        'ParseError',
        `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      ),
    );
    return;
  }
  if (bytes.includes(0)) {
    result.problems.push(fileProblem(file, 'ParseError', 'binary file: expected YAML or JSON text'));
    return;
  }
  const text = bytes.toString('utf8');
  if (text.includes('\uFFFD')) {
    result.problems.push(fileProblem(file, 'ParseError', 'file is not valid UTF-8 text'));
    return;
  }
  const parsed = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const docs = Array.isArray(parsed) ? parsed : [parsed];
  let position = 0;
  for (const doc of docs) {
    position++;
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const line = error.linePos?.[0];
        const where = line ? `line ${line.line}, column ${line.col}` : 'document';
        result.problems.push({
          file,
          kind: '',
          name: '',
          field: `(document ${position})`,
          message: `malformed YAML at ${where}: ${(error.message.split('\n')[0] as string).replace(/ at line \d+, column \d+:?$/, '')}`,
          code: 'ParseError',
        });
      }
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // The yaml library refuses alias expansion past maxAliasCount (a "billion laughs" document).
      result.problems.push({
        file,
        kind: '',
        name: '',
        field: `(document ${position})`,
        message: `YAML not expanded: ${(error as Error).message.split('\n')[0]}`,
        code: 'ParseError',
      });
      continue;
    }
    if (value === null || value === undefined) continue; // empty document between separators
    if (typeof value === 'object' && !Array.isArray(value) && (value as { kind?: unknown }).kind === 'List') {
      const items = (value as { items?: unknown }).items;
      for (const item of Array.isArray(items) ? items : [])
        result.documents.push({ file, position, doc: item });
      continue;
    }
    result.documents.push({ file, position, doc: value });
  }
  if (!result.documents.some((d) => d.file === file) && !result.problems.some((p) => p.file === file)) {
    result.problems.push(fileProblem(file, 'ParseError', 'file holds no documents'));
  }
}

/** Validates loaded documents: one report line per error, and the workflows that compiled. */
export function validateLoaded(documents: readonly LoadedDocument[]): {
  lines: ReportLine[];
  workflows: Map<string, CompiledWorkflow>;
} {
  const reports = validateDocuments(documents.map((d) => d.doc));
  const lines: ReportLine[] = [];
  const workflows = new Map<string, CompiledWorkflow>();
  for (const report of reports) {
    const source = documents[report.index] as LoadedDocument;
    if (report.workflow) workflows.set(`${report.namespace}/${report.name}`, report.workflow);
    for (const error of report.errors) {
      lines.push({
        file: source.file,
        kind: report.kind,
        name: report.name,
        field: error.field,
        message: messageWithSuggestion(error),
        code: error.code,
      });
    }
  }
  return { lines, workflows };
}

/** Formats a report line as `<file>: <Kind>/<name>: <field.path>: <message>`. */
export function formatLine(line: ReportLine): string {
  const object = line.kind || line.name ? `${line.kind || '?'}/${line.name || '?'}` : '-';
  return `${line.file}: ${object}: ${line.field}: ${line.message}`;
}

/** Definitions loaded for `run` and `plan`: compiled workflows by `namespace/name`. */
export interface LoadedDefinitions {
  lines: ReportLine[];
  unreadable: boolean;
  workflows: Map<string, CompiledWorkflow>;
}

/** Loads, validates and compiles definitions; `lines` is empty when all are valid. */
export async function loadDefinitions(paths: readonly string[], cwd: string): Promise<LoadedDefinitions> {
  const loaded = await loadDocuments(paths, cwd);
  const { lines, workflows } = validateLoaded(loaded.documents);
  lines.unshift(...loaded.problems);
  return { lines, unreadable: loaded.unreadable, workflows: lines.length === 0 ? workflows : new Map() };
}
