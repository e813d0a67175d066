import { expect } from 'chai';
import { ago, duration, shortRevision } from '../src/format.ts';
import { currentRoute, href, navigate, NAV_SECTIONS, navSection } from '../src/router.ts';

describe('how the console prints durations, times and revisions', () => {
  it('duration: ms under a second, seconds with two then one decimal, minutes and seconds beyond', () => {
    expect([undefined, Number.NaN, 4.4, 999, 1500, 12_340, 61_000, 3_599_000].map(duration)).to.deep.equal([
      '—',
      '—',
      '4 ms',
      '999 ms',
      '1.50 s',
      '12.3 s',
      '1 m 1 s',
      '59 m 59 s',
    ]);
  });

  it('ago: seconds, minutes, hours and days before now; never negative', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(
      [
        undefined,
        '2026-01-02T00:00:05Z',
        '2026-01-01T23:59:30Z',
        '2026-01-01T23:58:00Z',
        '2026-01-01T21:00:00Z',
        '2025-12-30T00:00:00Z',
      ].map((t) => ago(t, now)),
    ).to.deep.equal(['—', '0s ago', '30s ago', '2m ago', '3h ago', '3d ago']);
  });

  it('shortRevision: the first 12 hex digits without the sha256: prefix', () => {
    expect(shortRevision(`sha256:${'ab'.repeat(32)}`)).to.equal('abababababab');
    expect(shortRevision(undefined)).to.equal('—');
  });
});

describe('hash routing (the page state is in the URL)', () => {
  let fake: { hash: string; events: string[]; replaced: string[] };
  beforeEach(() => {
    fake = { hash: '', events: [], replaced: [] };
    Object.assign(globalThis, {
      location: {
        get hash() {
          return fake.hash;
        },
        set hash(value: string) {
          fake.hash = `#${value}`;
        },
      },
      history: { replaceState: (_s: unknown, _t: string, url: string) => fake.replaced.push(url) },
      dispatchEvent: (event: Event) => fake.events.push(event.type),
      HashChangeEvent: class extends Event {},
    });
  });

  it('href builds a hash link, dropping empty query values', () => {
    expect(href('/ns/shop/workflows')).to.equal('#/ns/shop/workflows');
    expect(href('/ns/shop/compare', { a: 'x 1', b: '', c: undefined })).to.equal('#/ns/shop/compare?a=x+1');
  });

  it('currentRoute reads the segments (decoded) and the query from the hash; an empty hash is /', () => {
    fake.hash = '#/ns/shop/workflows/a%20b?tab=yaml&task=user';
    const route = currentRoute();
    expect(route.path).to.equal('/ns/shop/workflows/a%20b');
    expect(route.segments).to.deep.equal(['ns', 'shop', 'workflows', 'a b']);
    expect(Object.fromEntries(route.query)).to.deep.equal({ tab: 'yaml', task: 'user' });
    fake.hash = '';
    expect(currentRoute().segments).to.deep.equal([]);
  });

  it('navigate pushes a new hash, or replaces the entry and announces the change', () => {
    navigate('#/ns/a/executions');
    expect(fake.hash).to.equal('#/ns/a/executions');
    expect(fake.events).to.deep.equal([]);
    navigate('#/ns/a/executions?phase=Failed', true);
    expect(fake.replaced).to.deep.equal(['#/ns/a/executions?phase=Failed']);
    expect(fake.events).to.deep.equal(['hashchange']);
  });
});

describe('the navigation marks the one section a page belongs to', () => {
  it('a section page marks itself; compare belongs to executions, the playground to the builder; anything else to workflows', () => {
    // Each page beside the section it marks.
    const pages: [string | undefined, string][] = [
      ['workflows', 'workflows'],
      ['executions', 'executions'],
      ['live', 'live'],
      ['builder', 'builder'],
      ['templates', 'templates'],
      ['breakers', 'breakers'],
      ['compare', 'executions'],
      ['playground', 'builder'],
      [undefined, 'workflows'],
    ];
    expect(pages.map(([page]) => navSection(page))).to.deep.equal(pages.map(([, section]) => section));
    expect(NAV_SECTIONS.map((s) => s.section)).to.deep.equal([
      'workflows',
      'executions',
      'live',
      'builder',
      'templates',
      'breakers',
    ]);
  });
});
