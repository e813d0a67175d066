/**
 * URL templates, compiled once per WorkflowTask. Where a template sits decides what its value may
 * do: scheme, userinfo and port are fixed at definition time; in the host a template may supply
 * exactly one DNS label under a literal parent domain (`{{input.tenant}}.users.svc`), checked at run
 * time before anything is sent; in the path, query and fragment the value is percent-encoded for
 * that component, so data can never move the request to another host or change the URL's structure.
 */
import { SyncflowError } from '../errors.ts';
import { isDnsLabel } from '../model/names.ts';
import type { CompiledValue } from './compiled-value.ts';
import { formatRef, type TemplateRef } from './parser.ts';
import { resolveRef, stringifyForInterpolation, type TemplateScope } from './resolve.ts';

/** The URL component a template lands in. */
export type UrlComponent = 'host' | 'path' | 'query' | 'fragment';

/** One template of a URL with where it lands. */
interface UrlSlot {
  ref: TemplateRef;
  component: UrlComponent;
  /** For `host`: index of the dot-separated label; for `path`: index of the `/`-separated segment. */
  index: number;
}

/** A URL template ready to resolve: literal text and slots in order. */
export interface UrlTemplate {
  parts: ReadonlyArray<string | UrlSlot>;
  /** True when some template lands in the host or path (their results are checked after resolving). */
  checkHost: boolean;
  checkPath: boolean;
}

/** Why a URL template is refused: the component a template touches, with a fix. */
export interface UrlTemplateProblem {
  message: string;
  suggestion: string;
}

const LABEL_VALUE = /^[a-z0-9-]*$/;
const NOT_ONLY_DOTS = /[^.]/;
/** Stands for a template while the literal skeleton is analysed (never valid in a URL). */
const SLOT = '\u0000';
const FIXED =
  'write the scheme, host and port literally; a template may fill one host label (`http://{{input.tenant}}.users.svc/`), path segments, query keys and values, or the fragment';

/** Compiles a URL's compiled value into a `UrlTemplate`, or lists every position a template may not take. */
export function compileUrlTemplate(value: CompiledValue): UrlTemplate | UrlTemplateProblem[] {
  if (value.kind === 'const') return { parts: [String(value.value)], checkHost: false, checkPath: false };
  if (value.kind !== 'exact' && value.kind !== 'interpolated') {
    return [{ message: 'the URL must be a string', suggestion: FIXED }];
  }
  const pieces = value.kind === 'exact' ? [value.ref] : value.parts;
  const refs: TemplateRef[] = [];
  let skeleton = '';
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      skeleton += piece;
    } else {
      refs.push(piece);
      skeleton += SLOT;
    }
  }
  const problems: UrlTemplateProblem[] = [];
  const refused = (ref: TemplateRef, where: string, why: string) =>
    problems.push({ message: `\`{{${formatRef(ref)}}}\` is in the ${where}: ${why}`, suggestion: FIXED });
  const slots: UrlSlot[] = [];
  const schemeEnd = skeleton.indexOf('://');
  const authorityStart = schemeEnd < 0 ? skeleton.length : schemeEnd + 3;
  let end = authorityStart;
  while (end < skeleton.length && !'/?#'.includes(skeleton[end] as string)) end++;
  const authority = skeleton.slice(authorityStart, end);
  const at = authority.lastIndexOf('@');
  const hostStart = at + 1;
  const bracketEnd = authority.startsWith('[', hostStart) ? authority.indexOf(']', hostStart) : -1;
  const colon = authority.indexOf(':', bracketEnd < 0 ? hostStart : bracketEnd);
  const hostEnd = colon < 0 ? authority.length : colon;
  const host = authority.slice(hostStart, hostEnd);
  const labels = host.split('.');
  const rest = skeleton.slice(end);
  const queryAt = rest.search(/[?#]/) < 0 ? rest.length : rest.search(/[?#]/);
  const fragmentAt = rest.indexOf('#') < 0 ? rest.length : rest.indexOf('#');

  let slot = 0;
  for (let i = 0; i < skeleton.length; i++) {
    if (skeleton[i] !== SLOT) continue;
    const ref = refs[slot++] as TemplateRef;
    if (i < authorityStart) {
      refused(ref, 'scheme', 'the scheme and host are fixed at definition time');
      continue;
    }
    if (i < end) {
      const a = i - authorityStart;
      if (a < hostStart) refused(ref, 'userinfo', 'credentials in the URL cannot be templated; use a header');
      else if (a >= hostEnd) refused(ref, 'port', 'the port is fixed at definition time');
      else if (bracketEnd >= 0) refused(ref, 'host', 'an IPv6 literal host cannot be templated');
      else {
        const index = labelIndex(host, a - hostStart);
        const label = labels[index] as string;
        if (index === labels.length - 1) {
          refused(
            ref,
            'host',
            'a template may fill one label under a literal parent domain, not the whole host or its last label',
          );
        } else if (!LABEL_VALUE.test(label.replaceAll(SLOT, ''))) {
          refused(
            ref,
            'host',
            `label \`${label.replaceAll(SLOT, '{{…}}')}\` mixes the template with characters a DNS label cannot hold`,
          );
        } else {
          slots.push({ ref, component: 'host', index });
        }
      }
      continue;
    }
    const r = i - end;
    if (r < queryAt) slots.push({ ref, component: 'path', index: countOf(rest.slice(0, r), '/') });
    else if (r < fragmentAt) slots.push({ ref, component: 'query', index: 0 });
    else slots.push({ ref, component: 'fragment', index: 0 });
  }
  if (problems.length) return problems;
  const parts: Array<string | UrlSlot> = [];
  slot = 0;
  for (const piece of pieces) parts.push(typeof piece === 'string' ? piece : (slots[slot++] as UrlSlot));
  return {
    parts,
    checkHost: slots.some((s) => s.component === 'host'),
    checkPath: slots.some((s) => s.component === 'path'),
  };
}

function countOf(text: string, char: string): number {
  let n = 0;
  for (const c of text) if (c === char) n++;
  return n;
}

function labelIndex(host: string, offset: number): number {
  return countOf(host.slice(0, offset), '.');
}

/**
 * Resolves a URL template against a task's scope. Throws `SyncflowError('UnsafeRequestValue')`,
 * naming the template but not echoing the value, when a value cannot be placed where it lands.
 */
export function resolveUrlTemplate(template: UrlTemplate, scope: TemplateScope): string {
  let out = '';
  // Only a path value made of dots alone (or empty) can complete a `.` or `..` segment: any other
  // character stays in its segment after encoding. Without such a value the path needs no check.
  let check = template.checkHost;
  for (const part of template.parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const text = stringifyForInterpolation(resolveRef(part.ref, scope));
    if (part.component === 'host') {
      if (!LABEL_VALUE.test(text)) throw hostLabelError(part.ref, text);
      out += text;
    } else {
      if (part.component === 'path' && !check && !NOT_ONLY_DOTS.test(text)) check = true;
      out += encodeComponent(part.ref, text);
    }
  }
  if (check) checkResolved(template, out);
  return out;
}

/** Percent-encodes a value for a path segment, query key or value, or fragment. */
function encodeComponent(ref: TemplateRef, text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    // A lone surrogate (JSON allows `"\ud800"`) has no UTF-8 encoding.
    throw new SyncflowError(
      'UnsafeRequestValue',
      `spec.http.url: \`{{${formatRef(ref)}}}\` resolved to text that is not valid Unicode; nothing was sent`,
    );
  }
}

function hostLabelError(ref: TemplateRef, text: string): SyncflowError {
  return new SyncflowError(
    'UnsafeRequestValue',
    `spec.http.url: \`{{${formatRef(ref)}}}\` must resolve to one DNS label (a-z, 0-9 and '-', at most 63 characters, not starting or ending with '-'); the value (${text.length} characters) is not one, so nothing was sent`,
  );
}

/** Checks the host labels and path segments that templates filled, on the resolved URL. */
function checkResolved(template: UrlTemplate, url: string): void {
  const authorityStart = url.indexOf('://') + 3;
  let end = authorityStart;
  while (end < url.length && !'/?#'.includes(url[end] as string)) end++;
  const authority = url.slice(authorityStart, end);
  const host = authority.slice(authority.lastIndexOf('@') + 1).split(':')[0] as string;
  const labels = host.split('.');
  const rest = url.slice(end);
  const queryAt = rest.search(/[?#]/);
  const segments = (queryAt < 0 ? rest : rest.slice(0, queryAt)).split('/');
  for (const part of template.parts) {
    if (typeof part === 'string') continue;
    const label = labels[part.index] ?? '';
    if (part.component === 'host' && !isDnsLabel(label)) {
      throw hostLabelError(part.ref, label);
    }
    if (part.component === 'path') {
      const segment = segments[part.index];
      // `.` and `..` segments are removed by URL normalisation (in any spelling, `%2e` too).
      if (segment === '.' || segment === '..') {
        throw new SyncflowError(
          'UnsafeRequestValue',
          `spec.http.url: \`{{${formatRef(part.ref)}}}\` made the path segment \`${segment}\`, which would move the request to another path; nothing was sent`,
        );
      }
    }
  }
}
