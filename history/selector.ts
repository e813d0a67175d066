/**
 * Kubernetes label and field selectors: parsed once at the edge into requirement lists, matched in
 * memory (watch) or translated to SQL (list, see sql-filter.ts). The string syntax is the one
 * kubectl sends: `a=b,c!=d,e in (f,g),h notin (i),j,!k` and `spec.workflowRef.name=x,status.phase!=Failed`.
 */
import { SyncflowError } from '../core/errors.ts';
import { isDnsSubdomain, isLabelValue } from '../core/model/names.ts';
import type { WorkflowExecution } from '../core/model/execution.ts';

export type LabelOperator = 'exists' | 'notexists' | 'eq' | 'neq' | 'in' | 'notin';

/** One requirement of a label selector; `values` has one item for eq/neq, none for (not)exists. */
export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

/** A parsed label selector: every requirement must hold (an empty list selects everything). */
export type LabelSelector = LabelRequirement[];

/** Fields of an execution a field selector may name. */
export const SELECTABLE_FIELDS = [
  'metadata.name',
  'metadata.namespace',
  'spec.workflowRef.name',
  'status.phase',
] as const;
export type SelectableField = (typeof SELECTABLE_FIELDS)[number];

/** One requirement of a field selector. */
export interface FieldRequirement {
  field: SelectableField;
  operator: 'eq' | 'neq';
  value: string;
}

export type FieldSelector = FieldRequirement[];

function invalid(field: string, message: string): SyncflowError {
  return new SyncflowError('BadRequest', `${field}: ${message}`, {
    causes: [{ code: 'FieldInvalid', field, message }],
  });
}

function checkKey(key: string, requirement: string): void {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !isDnsSubdomain(prefix)) {
    throw invalid(
      'labelSelector',
      `"${requirement}": key prefix "${prefix}" must be a DNS subdomain such as example.com`,
    );
  }
  if (!name || !isLabelValue(name)) {
    throw invalid(
      'labelSelector',
      `"${requirement}": key "${key}" must be at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`,
    );
  }
}

function checkValue(value: string, requirement: string): void {
  if (!isLabelValue(value)) {
    throw invalid(
      'labelSelector',
      `"${requirement}": value "${value}" must be empty or at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`,
    );
  }
}

/** Splits at commas that are not inside parentheses. */
function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const ch = selector[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(selector.slice(start));
  return parts.map((p) => p.trim());
}

const SET_REQUIREMENT = /^(\S+)\s+(in|notin)\s*\((.*)\)$/;
const EQUALITY_REQUIREMENT = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/;

function parseRequirement(text: string): LabelRequirement {
  if (text === '') throw invalid('labelSelector', 'empty requirement (remove the extra comma)');
  const set = SET_REQUIREMENT.exec(text);
  if (set) {
    const [, key = '', op = '', list = ''] = set;
    checkKey(key, text);
    const values = list.split(',').map((v) => v.trim());
    if (values.length === 0 || values.every((v) => v === '')) {
      throw invalid('labelSelector', `"${text}": the value set is empty; list at least one value`);
    }
    for (const v of values) checkValue(v, text);
    return { key, operator: op === 'in' ? 'in' : 'notin', values };
  }
  const eq = EQUALITY_REQUIREMENT.exec(text);
  if (eq) {
    const [, key = '', op = '', value = ''] = eq;
    checkKey(key, text);
    checkValue(value.trim(), text);
    return { key, operator: op === '!=' ? 'neq' : 'eq', values: [value.trim()] };
  }
  if (/[<>]/.test(text)) {
    throw invalid(
      'labelSelector',
      `"${text}": the operators < and > are not supported; use =, !=, in, notin or exists`,
    );
  }
  if (text.startsWith('!')) {
    const key = text.slice(1).trim();
    checkKey(key, text);
    return { key, operator: 'notexists', values: [] };
  }
  checkKey(text, text);
  return { key: text, operator: 'exists', values: [] };
}

/** Parses a Kubernetes label selector string; throws `BadRequest` naming the bad requirement. */
export function parseLabelSelector(selector: string): LabelSelector {
  if (selector.trim() === '') return [];
  return splitTopLevel(selector).map(parseRequirement);
}

/** Accepts either form and returns the parsed one. */
export function toLabelSelector(selector: string | LabelSelector | undefined): LabelSelector {
  if (selector === undefined) return [];
  return typeof selector === 'string' ? parseLabelSelector(selector) : selector;
}

/** Whether a label set satisfies every requirement (Kubernetes semantics: notin/!= match absent keys). */
export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  return selector.every((r) => {
    const value = labels?.[r.key];
    switch (r.operator) {
      case 'exists':
        return value !== undefined;
      case 'notexists':
        return value === undefined;
      case 'eq':
      case 'in':
        return value !== undefined && r.values.includes(value);
      case 'neq':
      case 'notin':
        return value === undefined || !r.values.includes(value);
    }
  });
}

/** Parses a Kubernetes field selector string; throws `BadRequest` naming the field and the supported ones. */
export function parseFieldSelector(selector: string): FieldSelector {
  if (selector.trim() === '') return [];
  return selector.split(',').map((raw) => {
    const text = raw.trim();
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(text);
    if (!m) {
      throw invalid('fieldSelector', `"${text}" is not of the form field=value or field!=value`);
    }
    const [, field = '', op = '', value = ''] = m;
    if (!(SELECTABLE_FIELDS as readonly string[]).includes(field)) {
      throw invalid(
        'fieldSelector',
        `field "${field}" is not selectable; use one of ${SELECTABLE_FIELDS.join(', ')}`,
      );
    }
    return { field: field as SelectableField, operator: op === '!=' ? 'neq' : 'eq', value: value.trim() };
  });
}

/** Accepts either form and returns the parsed one. */
export function toFieldSelector(selector: string | FieldSelector | undefined): FieldSelector {
  if (selector === undefined) return [];
  return typeof selector === 'string' ? parseFieldSelector(selector) : selector;
}

/** The values of the selectable fields of one object. */
export type SelectableValues = Record<SelectableField, string>;

/** Whether an object's selectable field values satisfy every requirement. */
export function matchesFields(selector: FieldSelector, values: SelectableValues): boolean {
  return selector.every((r) => (values[r.field] === r.value) === (r.operator === 'eq'));
}

/** Selectors compiled once for a watch: namespace (all when undefined), labels and fields. */
export interface ExecutionSelector {
  namespace: string | undefined;
  labels: LabelSelector;
  fields: FieldSelector;
}

/** Parses a request's namespace and selectors once. */
export function executionSelector(filter: {
  namespace?: string | undefined;
  labelSelector?: string | LabelSelector | undefined;
  fieldSelector?: string | FieldSelector | undefined;
}): ExecutionSelector {
  return {
    namespace: filter.namespace,
    labels: toLabelSelector(filter.labelSelector),
    fields: toFieldSelector(filter.fieldSelector),
  };
}

/** Whether an execution object passes a watch's selectors (its selectable fields: SELECTABLE_FIELDS). */
export function matchesExecution(
  selector: ExecutionSelector,
  object: Pick<WorkflowExecution, 'metadata' | 'spec' | 'status'>,
): boolean {
  const m = object.metadata;
  if (selector.namespace !== undefined && m.namespace !== selector.namespace) return false;
  return (
    matchesLabels(selector.labels, m.labels) &&
    matchesFields(selector.fields, {
      'metadata.name': m.name,
      'metadata.namespace': m.namespace,
      'spec.workflowRef.name': object.spec.workflowRef.name,
      'status.phase': object.status.phase,
    })
  );
}
