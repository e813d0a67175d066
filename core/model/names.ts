/**
 * The Kubernetes grammar of names, label keys and values, and annotations (apimachinery's
 * `validation.IsDNS1123Subdomain`, `IsDNS1123Label`, `IsQualifiedName`, `IsValidLabelValue`), written
 * once. Each check returns every field error it finds, with the path it was given.
 */
import type { FieldError } from '../errors.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Longest DNS-1123 subdomain (object names, label key prefixes). */
export const DNS_SUBDOMAIN_MAX = 253;
/** Longest DNS-1123 label, label key name and label value. */
export const DNS_LABEL_MAX = 63;
/** Total size of an object's annotations (keys and values). */
export const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/** Whether `value` is a DNS-1123 label: lower-case alphanumerics and `-`, at most 63 characters. */
export function isDnsLabel(value: string): boolean {
  return value.length <= DNS_LABEL_MAX && DNS_LABEL.test(value);
}

/** Whether `value` is a DNS-1123 subdomain: dot-separated DNS labels, at most 253 characters. */
export function isDnsSubdomain(value: string): boolean {
  return value.length <= DNS_SUBDOMAIN_MAX && DNS_SUBDOMAIN.test(value);
}

/** Whether `key` is a qualified name (label or annotation key): `[prefix/]name`. */
export function isQualifiedName(key: string): boolean {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !isDnsSubdomain(prefix)) return false;
  return name.length <= DNS_LABEL_MAX && QUALIFIED_NAME_PART.test(name);
}

/** Whether `value` is a valid label value: empty, or a qualified name part of at most 63 characters. */
export function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= DNS_LABEL_MAX && QUALIFIED_NAME_PART.test(value));
}

/** Errors of an object name (`metadata.name`): a DNS-1123 subdomain. */
export function objectNameErrors(name: string, field: string): FieldError[] {
  return isDnsSubdomain(name) ? [] : [invalidName(name, field)];
}

/** Errors of a `metadata.generateName` prefix: a name once five characters are appended. */
export function generateNameErrors(prefix: string, field: string): FieldError[] {
  return isDnsSubdomain(`${prefix}x`) ? [] : [invalidName(prefix, field)];
}

function invalidName(name: string, field: string): FieldError {
  return {
    code: 'InvalidName',
    field,
    message: `\`${name}\` is not a valid Kubernetes name (a lower-case DNS subdomain of at most ${DNS_SUBDOMAIN_MAX} characters)`,
    suggestion: 'use lower-case letters, digits, `-` and `.`',
  };
}

/** Errors of a DNS-1123 label (step ids, host labels). */
export function dnsLabelErrors(value: string, field: string): FieldError[] {
  if (isDnsLabel(value)) return [];
  return [
    {
      code: 'InvalidName',
      field,
      message: `\`${value}\` is not a DNS label`,
      suggestion: 'use lower-case letters, digits and `-`, starting and ending with a letter or digit',
    },
  ];
}

/** Validation errors of a label or annotation map (`field` like `metadata.labels`). */
export function metadataMapErrors(map: unknown, field: string, kind: 'label' | 'annotation'): FieldError[] {
  if (map === undefined) return [];
  if (map === null || typeof map !== 'object' || Array.isArray(map)) {
    return [{ code: 'FieldInvalid', field, message: 'must be a map of string keys to string values' }];
  }
  const errors: FieldError[] = [];
  let size = 0;
  for (const [key, value] of Object.entries(map)) {
    const at = `${field}[${JSON.stringify(key)}]`;
    if (!isQualifiedName(key)) {
      errors.push({
        code: 'FieldInvalid',
        field: at,
        message: `\`${key}\` is not a valid ${kind} key`,
        suggestion: 'use an optional DNS prefix and a name of up to 63 alphanumerics, `-`, `_` or `.`',
      });
    }
    if (typeof value !== 'string') {
      errors.push({ code: 'FieldInvalid', field: at, message: 'must be a string' });
    } else if (kind === 'label' && !isLabelValue(value)) {
      errors.push({
        code: 'FieldInvalid',
        field: at,
        message: `\`${value}\` is not a valid label value`,
        suggestion: 'use up to 63 alphanumerics, `-`, `_` or `.`',
      });
    } else {
      size += key.length + value.length;
    }
  }
  if (kind === 'annotation' && size > ANNOTATIONS_MAX_BYTES) {
    errors.push({ code: 'FieldInvalid', field, message: 'annotations may hold at most 256 KiB' });
  }
  return errors;
}
