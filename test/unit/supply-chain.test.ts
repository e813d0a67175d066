/**
 * The supply-chain verdicts of hack/supply-chain.sh: the audit fails on high or critical
 * vulnerabilities and says so when the audit service gives no verdict; the licence check refuses a
 * licence off the allow-list (and a missing one); the SBOM lists production dependencies only.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { auditVerdict, licenceAllowed, licenceVerdict, sbomVerdict } from '../../hack/supply-chain.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe('licenceAllowed (SPDX expressions against the allow-list)', () => {
  const cases: Array<[string, boolean]> = [
    ['MIT', true],
    ['Apache-2.0', true],
    ['GPL-3.0-only', false],
    ['AGPL-3.0-or-later', false],
    ['(MIT OR GPL-3.0-only)', true],
    ['(MIT AND GPL-3.0-only)', false],
    ['(BSD-3-Clause OR (GPL-2.0-only AND MIT))', true],
    ['(GPL-2.0-only OR (SSPL-1.0 AND MIT))', false],
    ['Apache-2.0+', true],
    ['SEE LICENSE IN LICENSE.txt', false],
  ];
  for (const [expression, allowed] of cases) {
    it(`${allowed ? 'allows' : 'refuses'} ${expression}`, () => {
      expect(licenceAllowed(expression)).to.equal(allowed);
    });
  }
});

describe('licenceVerdict', () => {
  it('fails naming each dependency whose licence is off the list or missing', () => {
    const verdict = licenceVerdict([
      { name: 'ok', version: '1.0.0', licenses: [{ license: { id: 'MIT' } }] },
      { name: 'copyleft', version: '2.0.0', licenses: [{ license: { id: 'GPL-3.0-only' } }] },
      { name: 'anonymous', version: '0.1.0' },
      { name: 'dual', version: '3.0.0', licenses: [{ expression: '(MIT OR Apache-2.0)' }] },
    ]);
    expect(verdict.result).to.equal('fail');
    expect(verdict.lines).to.include('  copyleft@2.0.0: GPL-3.0-only is not on the allow-list');
    expect(verdict.lines).to.include('  anonymous@0.1.0: declares no licence');
    expect(verdict.lines.join('\n')).not.to.match(/\b(ok|dual)@/);
  });

  it("passes on package-lock.json's production dependencies", () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; license?: string; dev?: boolean; link?: boolean }>;
    };
    const components = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.dev !== true && p.link !== true)
      .map(([path, p]) => ({
        name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length),
        version: p.version,
        licenses: p.license === undefined ? [] : [{ expression: p.license }],
      }));
    expect(components.length).to.be.greaterThan(20);
    const verdict = licenceVerdict(components);
    expect(verdict.lines.slice(1), verdict.lines[0]).to.deep.equal([]);
    expect(verdict.result).to.equal('pass');
  });
});

describe('auditVerdict (npm audit --json)', () => {
  const report = (counts: Record<string, number>) => ({
    metadata: { vulnerabilities: counts, dependencies: { prod: 120 } },
    vulnerabilities: {
      lodash: {
        severity: 'high',
        via: [{ title: 'Prototype Pollution', url: 'https://github.com/advisories/GHSA-xxxx' }],
      },
    },
  });

  it('fails on a high or critical vulnerability and lists it', () => {
    const verdict = auditVerdict(report({ critical: 0, high: 1, moderate: 2 }));
    expect(verdict.result).to.equal('fail');
    expect(verdict.lines[0]).to.equal(
      '120 production dependencies; vulnerabilities: critical 0, high 1, moderate 2, low 0, info 0',
    );
    expect(verdict.lines).to.include(
      '  high lodash: Prototype Pollution https://github.com/advisories/GHSA-xxxx',
    );
  });

  it('passes with moderate and low ones only (printed all the same)', () => {
    const verdict = auditVerdict(report({ moderate: 3, low: 1 }));
    expect(verdict.result).to.equal('pass');
    expect(verdict.lines.length).to.be.greaterThan(1);
  });

  it('says clearly that nothing was checked when the audit service answers an error', () => {
    const verdict = auditVerdict({
      message: '405 Method Not Allowed - POST https://registry.example/-/npm/v1/security/advisories/bulk',
      statusCode: 405,
      error: { summary: '', detail: '' },
    });
    expect(verdict.result).to.equal('unavailable');
    expect(verdict.lines[0]).to.match(/^UNAVAILABLE: .*405 Method Not Allowed/);
    expect(verdict.lines[1]).to.contain('NOT checked');
  });
});

describe('sbomVerdict', () => {
  const component = (name: string) => ({ name, version: '1.0.0', purl: `pkg:npm/${name}@1.0.0` });

  it('passes a CycloneDX SBOM of production packages with purls', () => {
    expect(
      sbomVerdict({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [component('pg')] }).result,
    ).to.equal('pass');
  });

  it('fails when a development tool is listed, a purl is missing or the format is not CycloneDX', () => {
    const verdict = sbomVerdict({
      bomFormat: 'SPDX',
      components: [component('mocha'), { name: 'nopurl', version: '1.0.0' }],
    });
    expect(verdict.result).to.equal('fail');
    expect(verdict.lines.slice(1)).to.deep.equal([
      '  bomFormat is SPDX, not CycloneDX',
      '  mocha: a development dependency is listed',
      '  nopurl: no npm purl',
    ]);
  });
});
