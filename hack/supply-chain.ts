/**
 * The supply-chain verdicts hack/supply-chain.sh prints: known vulnerabilities of the production
 * dependencies (npm audit's JSON report), the CycloneDX SBOM's shape, and the licence of every
 * production dependency against an allow-list. Each command prints its findings and exits 0 (pass),
 * 1 (fail) or 3 (no verdict: the audit service could not be reached).
 *
 *   npx tsx hack/supply-chain.ts audit REPORT.json
 *   npx tsx hack/supply-chain.ts sbom SBOM.cdx.json
 *   npx tsx hack/supply-chain.ts licences SBOM.cdx.json
 */
import { readFile } from 'node:fs/promises';

/** Licences a production dependency may have (SPDX ids): permissive, compatible with Apache-2.0. */
export const ALLOWED_LICENCES = new Set([
  '0BSD',
  'Apache-2.0',
  'BlueOak-1.0.0',
  'BSD-2-Clause',
  'BSD-3-Clause',
  'CC0-1.0',
  'ISC',
  'MIT',
  'MIT-0',
  'Python-2.0',
  'Unlicense',
]);

/** Severities that fail the audit. */
const BLOCKING = ['high', 'critical'] as const;

/** What a check concluded, with the lines to print. */
export interface Verdict {
  result: 'pass' | 'fail' | 'unavailable';
  lines: string[];
}

interface AuditReport {
  message?: string;
  statusCode?: number;
  error?: { summary?: string; detail?: string } | string;
  metadata?: { vulnerabilities?: Record<string, number>; dependencies?: { prod?: number; total?: number } };
  vulnerabilities?: Record<
    string,
    {
      severity: string;
      via: Array<string | { title?: string; url?: string; range?: string }>;
      fixAvailable?: unknown;
    }
  >;
}

/** The verdict of an `npm audit --json` report: fail on a high or critical vulnerability. */
export function auditVerdict(report: AuditReport): Verdict {
  const counts = report.metadata?.vulnerabilities;
  if (counts === undefined) {
    const reason =
      report.message ??
      (typeof report.error === 'string'
        ? report.error
        : (report.error?.summary ?? 'no vulnerability counts'));
    return {
      result: 'unavailable',
      lines: [
        `UNAVAILABLE: the registry's audit service gave no verdict (${reason.trim() || 'no reason given'}).`,
        'Known vulnerabilities of the production dependencies were NOT checked.',
      ],
    };
  }
  const lines = [
    `${report.metadata?.dependencies?.prod ?? '?'} production dependencies; vulnerabilities: ` +
      ['critical', 'high', 'moderate', 'low', 'info'].map((s) => `${s} ${counts[s] ?? 0}`).join(', '),
  ];
  for (const [name, v] of Object.entries(report.vulnerabilities ?? {})) {
    const advisories = v.via
      .filter((via): via is { title?: string; url?: string } => typeof via !== 'string')
      .map((via) => `${via.title ?? '?'} ${via.url ?? ''}`.trim());
    lines.push(`  ${v.severity} ${name}: ${advisories.join('; ') || `via ${v.via.join(', ')}`}`);
  }
  const blocking = BLOCKING.reduce((sum, s) => sum + (counts[s] ?? 0), 0);
  return { result: blocking > 0 ? 'fail' : 'pass', lines };
}

/** Whether an SPDX licence expression is satisfied by the allow-list (OR: one side; AND: both). */
export function licenceAllowed(expression: string, allowed: ReadonlySet<string> = ALLOWED_LICENCES): boolean {
  const text = expression.trim();
  const inner = /^\((.*)\)$/.exec(text);
  if (inner?.[1] !== undefined && balanced(inner[1])) return licenceAllowed(inner[1], allowed);
  for (const [operator, all] of [
    [' OR ', false],
    [' AND ', true],
  ] as const) {
    const parts = splitTopLevel(text, operator);
    if (parts.length > 1) {
      const results = parts.map((part) => licenceAllowed(part, allowed));
      return all ? results.every(Boolean) : results.some(Boolean);
    }
  }
  return allowed.has(text.replace(/\+$/, ''));
}

function balanced(text: string): boolean {
  let depth = 0;
  for (const ch of text) {
    depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
    if (depth < 0) return false;
  }
  return depth === 0;
}

function splitTopLevel(text: string, operator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && text.startsWith(operator, i)) {
      parts.push(text.slice(start, i));
      start = i + operator.length;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** A CycloneDX component, as far as these checks read it. */
export interface SbomComponent {
  name: string;
  version?: string;
  purl?: string;
  scope?: string;
  licenses?: Array<{ license?: { id?: string; name?: string }; expression?: string }>;
}

/** The licence expression a component declares, or undefined. */
function declaredLicence(component: SbomComponent): string | undefined {
  const entries = component.licenses ?? [];
  const expressions = entries
    .map((l) => l.expression ?? l.license?.id ?? l.license?.name)
    .filter((l): l is string => l !== undefined && l !== '');
  if (expressions.length === 0) return undefined;
  // Several entries: the package is under each of them.
  return expressions.length === 1 ? expressions[0] : expressions.map((e) => `(${e})`).join(' AND ');
}

/** Every component whose licence is missing or not allowed; pass when there is none. */
export function licenceVerdict(components: readonly SbomComponent[], allowed = ALLOWED_LICENCES): Verdict {
  const byLicence = new Map<string, number>();
  const refused: string[] = [];
  for (const c of components) {
    const licence = declaredLicence(c);
    const id = `${c.name}@${c.version ?? '?'}`;
    if (licence === undefined) refused.push(`  ${id}: declares no licence`);
    else if (!licenceAllowed(licence, allowed)) refused.push(`  ${id}: ${licence} is not on the allow-list`);
    if (licence !== undefined) byLicence.set(licence, (byLicence.get(licence) ?? 0) + 1);
  }
  const summary = [...byLicence.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([licence, n]) => `${licence} ${n}`)
    .join(', ');
  return {
    result: refused.length > 0 ? 'fail' : 'pass',
    lines: [`${components.length} production dependencies: ${summary}`, ...refused],
  };
}

/** Development-only packages that must never be in the production SBOM (a canary of --omit dev). */
const DEV_ONLY = ['mocha', 'typescript', 'tsx', 'eslint', 'c8'];

/** The SBOM is CycloneDX, lists the production dependencies with a purl each, and no development tool. */
export function sbomVerdict(sbom: {
  bomFormat?: string;
  specVersion?: string;
  components?: SbomComponent[];
}): Verdict {
  const problems: string[] = [];
  if (sbom.bomFormat !== 'CycloneDX') problems.push(`bomFormat is ${String(sbom.bomFormat)}, not CycloneDX`);
  const components = sbom.components ?? [];
  if (components.length === 0) problems.push('no components');
  for (const c of components) {
    if (!c.purl?.startsWith('pkg:npm/')) problems.push(`${c.name}: no npm purl`);
    if (DEV_ONLY.includes(c.name)) problems.push(`${c.name}: a development dependency is listed`);
  }
  return {
    result: problems.length > 0 ? 'fail' : 'pass',
    lines: [
      `CycloneDX ${sbom.specVersion ?? '?'}, ${components.length} components`,
      ...problems.map((p) => `  ${p}`),
    ],
  };
}

async function main(): Promise<number> {
  const [command, file] = process.argv.slice(2);
  if (file === undefined || !['audit', 'sbom', 'licences'].includes(command ?? '')) {
    console.error('usage: supply-chain.ts audit|sbom|licences FILE');
    return 2;
  }
  const json = JSON.parse(await readFile(file, 'utf8')) as never;
  const verdict =
    command === 'audit'
      ? auditVerdict(json)
      : command === 'sbom'
        ? sbomVerdict(json)
        : licenceVerdict((json as { components?: SbomComponent[] }).components ?? []);
  for (const line of verdict.lines) console.log(line);
  return { pass: 0, fail: 1, unavailable: 3 }[verdict.result];
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
