// The server's own Kubernetes client (kube/rest) against the real kube-apiserver: a list+watch
// that lists in pages, as the definition informers do at start-up and after 410 Gone.
import { expect } from 'chai';
import { loadKubeConfig } from '../../kube/config.ts';
import { KubeClient, type KubeList, type KubeObject } from '../../kube/rest/client.ts';
import { startListWatch, type ListWatch } from '../../kube/rest/informer.ts';
import { ControlPlane } from '../harness/controlplane.ts';

/** The server's client, noting each list request's continue token and what the answer held. */
class PageCountingClient extends KubeClient {
  readonly pages: Array<{ continue: unknown; items: number; next: string | undefined }> = [];

  override async list<T = KubeObject>(
    path: string,
    options?: Parameters<KubeClient['list']>[1],
  ): Promise<KubeList<T>> {
    const page = await super.list<T>(path, options);
    this.pages.push({
      continue: options?.query?.continue,
      items: page.items?.length ?? 0,
      next: page.metadata?.continue,
    });
    return page;
  }
}

describe('kube/rest list+watch against kube-apiserver', function () {
  this.timeout(120_000);
  let cp: ControlPlane;
  let client: PageCountingClient;
  let namespace: string;
  let running: ListWatch | undefined;

  before(async () => {
    cp = await ControlPlane.acquire();
    client = new PageCountingClient(await loadKubeConfig(cp.settings.kubeconfig));
    namespace = await cp.createNamespace('kube-rest');
  });

  after(async () => {
    await running?.stop();
    await client?.close();
    if (namespace) await cp.deleteNamespace(namespace);
  });

  const configMap = (name: string) =>
    JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { k: name } });

  it('lists five ConfigMaps in pages of two (three requests, continue tokens from kube-apiserver), then watches from the list', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e'])
      await cp.kubectl.ok(['-n', namespace, 'create', '-f', '-'], { stdin: configMap(name) });
    const lists: string[][] = [];
    const events: string[] = [];
    const errors: unknown[] = [];
    running = startListWatch<KubeObject>({
      client,
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      pageSize: 2,
      onList: (items) => lists.push(items.map((i) => i.metadata?.name ?? '?').sort()),
      onEvent: (type, object) => events.push(`${type} ${object.metadata?.name}`),
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < 200 && lists.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(lists, `errors: ${errors.map(String).join('; ')}`).to.deep.equal([['a', 'b', 'c', 'd', 'e']]);
    const pages = client.pages;
    expect(pages.map((p) => p.items)).to.deep.equal([2, 2, 1]);
    expect(pages[0]?.continue).to.equal(undefined);
    expect(pages[1]?.continue).to.be.a('string').and.equal(pages[0]?.next);
    expect(pages[2]?.continue).to.be.a('string').and.equal(pages[1]?.next);
    expect(pages[2]?.next).to.equal(undefined);
    // The watch starts from the list's resourceVersion: a new object arrives as ADDED, nothing listed twice.
    await cp.kubectl.ok(['-n', namespace, 'create', '-f', '-'], { stdin: configMap('f') });
    for (let i = 0; i < 200 && !events.includes('ADDED f'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(events).to.deep.equal(['ADDED f']);
    expect(errors).to.deep.equal([]);
  });
});
