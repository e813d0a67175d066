import { expect } from 'chai';
import {
  dnsLabelErrors,
  generateNameErrors,
  isDnsLabel,
  isDnsSubdomain,
  isLabelValue,
  isQualifiedName,
  metadataMapErrors,
  objectNameErrors,
} from './names.ts';

describe('Kubernetes names', () => {
  it('accepts DNS labels of at most 63 lower-case alphanumerics and `-`', () => {
    expect(['a', 'get-user', 'x'.repeat(63)].every(isDnsLabel)).to.equal(true);
    expect(['', '-a', 'a-', 'A', 'a.b', 'x'.repeat(64)].some(isDnsLabel)).to.equal(false);
  });

  it('accepts DNS subdomains of at most 253 characters', () => {
    expect(['a', 'a.b-c.d', `${'x'.repeat(63)}.${'y'.repeat(63)}`].every(isDnsSubdomain)).to.equal(true);
    expect(['', 'Bad_Name', 'a..b', '.a', 'x'.repeat(254)].some(isDnsSubdomain)).to.equal(false);
  });

  it('accepts qualified keys with an optional DNS prefix and label values that may be empty', () => {
    expect(['app', 'example.com/app', 'a_b.c-d'].every(isQualifiedName)).to.equal(true);
    expect(['', 'Ex/app', 'example.com/', '-a', 'x'.repeat(64)].some(isQualifiedName)).to.equal(false);
    expect(['', 'v1', 'A_b.c'].every(isLabelValue)).to.equal(true);
    expect(['not valid', '-a', 'x'.repeat(64)].some(isLabelValue)).to.equal(false);
  });

  it('names the field of an invalid name, generateName prefix or DNS label', () => {
    expect(objectNameErrors('Bad_Name', 'metadata.name').map((e) => [e.code, e.field])).to.deep.equal([
      ['InvalidName', 'metadata.name'],
    ]);
    expect(objectNameErrors('good', 'metadata.name')).to.deep.equal([]);
    expect(generateNameErrors('run-', 'metadata.generateName')).to.deep.equal([]);
    expect(generateNameErrors('Run-', 'metadata.generateName')[0]?.field).to.equal('metadata.generateName');
    expect(dnsLabelErrors('a.b', 'spec.tasks[0].id')[0]?.message).to.contain('not a DNS label');
    expect(dnsLabelErrors('ab', 'spec.tasks[0].id')).to.deep.equal([]);
  });

  it('reports every bad key and value of a label or annotation map', () => {
    const errors = metadataMapErrors({ 'Bad Key': 'v', ok: 'not valid', n: 3 }, 'metadata.labels', 'label');
    expect(errors.map((e) => e.field)).to.deep.equal([
      'metadata.labels["Bad Key"]',
      'metadata.labels["ok"]',
      'metadata.labels["n"]',
    ]);
    expect(metadataMapErrors('x', 'metadata.labels', 'label')[0]?.message).to.contain('map');
    expect(metadataMapErrors(undefined, 'metadata.labels', 'label')).to.deep.equal([]);
    expect(
      metadataMapErrors({ note: 'any text at all' }, 'metadata.annotations', 'annotation'),
    ).to.deep.equal([]);
    expect(
      metadataMapErrors({ big: 'x'.repeat(300 * 1024) }, 'metadata.annotations', 'annotation')[0]?.message,
    ).to.contain('256 KiB');
  });
});
