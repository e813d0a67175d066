/**
 * The templates library as the browser has it: the repository's templates/*.yaml bundled as text at
 * build time (Vite's import.meta.glob), parsed once by the same code the tests use.
 */
import { parseWorkflowTemplate, type WorkflowTemplate } from './templates.ts';

declare global {
  interface ImportMeta {
    glob(pattern: string, options: { query: string; import: string; eager: true }): Record<string, string>;
  }
}

const files = import.meta.glob('../../../templates/*.yaml', {
  query: '?raw',
  import: 'default',
  eager: true,
});

/** Every template, by title. */
export const TEMPLATES: readonly WorkflowTemplate[] = Object.entries(files)
  .map(([path, text]) => parseWorkflowTemplate(path.replace(/^.*\/|\.yaml$/g, ''), text).template)
  .filter((t): t is WorkflowTemplate => t !== undefined)
  .sort((a, b) => a.title.localeCompare(b.title));

/** A template by its name (file name). */
export function templateNamed(name: string | null | undefined): WorkflowTemplate | undefined {
  return TEMPLATES.find((t) => t.name === name);
}
