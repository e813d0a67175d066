/**
 * The console's shell: reads where the API is (config.json), signs in when the server wants a bearer
 * token, and routes `#/ns/<namespace>/...` to the pages. Pages with graphs and the validator load
 * lazily, so the first page stays small.
 */
import {
  createContext,
  lazy,
  Suspense,
  useContext,
  useEffect,
  useMemo,
  useState,
  type FormEvent,
} from 'react';
import { bearerToken, KubeClient, paths, type ConsoleConfig } from './api/client.ts';
import type { List, ObjectMeta } from './api/types.ts';
import { useResource } from './api/useResource.ts';
import { ErrorView, Loading } from './components/States.tsx';
import { href, NAV_SECTIONS, navigate, navSection, useRoute } from './router.ts';
import { WorkflowsPage } from './pages/WorkflowsPage.tsx';
import { ExecutionsPage } from './pages/ExecutionsPage.tsx';

const WorkflowPage = lazy(() => import('./pages/WorkflowPage.tsx'));
const RunPage = lazy(() => import('./pages/RunPage.tsx'));
const ExecutionPage = lazy(() => import('./pages/ExecutionPage.tsx'));
const ComparePage = lazy(() => import('./pages/ComparePage.tsx'));
const StepThroughPage = lazy(() => import('./debugger/StepThroughPage.tsx'));
const TimeTravelPage = lazy(() => import('./debugger/TimeTravelPage.tsx'));
const LiveNetworkPage = lazy(() => import('./live3d/LiveNetworkPage.tsx'));
const BuilderPage = lazy(() => import('./builder/BuilderPage.tsx'));
const TemplatesPage = lazy(() => import('./builder/TemplatesPage.tsx'));
const PlaygroundPage = lazy(() => import('./builder/PlaygroundPage.tsx'));
const CircuitBreakersPage = lazy(() => import('./pages/CircuitBreakersPage.tsx'));

const ClientContext = createContext<KubeClient | undefined>(undefined);

/** The API client of this console. */
export function useClient(): KubeClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useClient outside the console');
  return client;
}

const NAMESPACE_KEY = 'syncflow-console-namespace';

function useTheme(): [string, () => void] {
  const initial =
    localStorage.getItem('syncflow-console-theme') ??
    (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
  const [theme, setTheme] = useState(initial);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('syncflow-console-theme', theme);
  }, [theme]);
  return [theme, () => setTheme((t) => (t === 'dark' ? 'light' : 'dark'))];
}

function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const token = String(new FormData(event.currentTarget).get('token') ?? '').trim();
    if (token) {
      bearerToken.set(token);
      onSignedIn();
    }
  };
  return (
    <main id="main" className="signin">
      <h1>Sign in to the syncflow console</h1>
      <p>
        This server forwards your calls to Kubernetes with your own identity: paste a ServiceAccount token (
        <code>kubectl create token NAME</code>) or an OIDC id token. It stays in this tab only.
      </p>
      <form onSubmit={submit}>
        <label htmlFor="token">Bearer token</label>
        <input id="token" name="token" type="password" autoComplete="off" required />
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}

function NamespacePicker({ ns, section }: { ns: string; section: string }) {
  const client = useClient();
  // Listing namespaces needs a cluster-wide permission many people lack: then the field is free text.
  const namespaces = useResource(
    (signal) => client.get<List<{ metadata: ObjectMeta }>>(paths.namespaces(), {}, signal),
    'ns',
  );
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const next = String(new FormData(event.currentTarget).get('namespace') ?? '').trim();
    if (next) navigate(href(`/ns/${next}/${section}`));
  };
  return (
    <form className="ns-picker" onSubmit={submit} key={ns}>
      <label htmlFor="namespace">Namespace</label>
      <input id="namespace" name="namespace" list="namespaces" defaultValue={ns} size={14} />
      <datalist id="namespaces">
        {namespaces.state === 'ready'
          ? namespaces.data.items.map((n) => <option key={n.metadata.name} value={n.metadata.name} />)
          : null}
      </datalist>
      <button type="submit">Go</button>
    </form>
  );
}

function Pages() {
  const route = useRoute();
  const [first, ns, section, name, sub] = route.segments;
  useEffect(() => {
    if (first !== 'ns' || !ns)
      navigate(href(`/ns/${localStorage.getItem(NAMESPACE_KEY) ?? 'default'}/workflows`), true);
    else localStorage.setItem(NAMESPACE_KEY, ns);
  }, [first, ns]);
  useEffect(() => {
    document.title = ['syncflow', section, name].filter(Boolean).join(' · ');
  }, [section, name]);
  if (first !== 'ns' || !ns) return <Loading what="the console" />;
  let page;
  if (section === 'workflows' && !name) page = <WorkflowsPage ns={ns} />;
  else if (section === 'workflows' && name && sub === 'debug')
    page = <StepThroughPage ns={ns} name={name} query={route.query} />;
  else if (section === 'executions' && name && sub === 'travel')
    page = <TimeTravelPage ns={ns} name={name} />;
  else if (section === 'workflows' && name && sub === 'run')
    page = <RunPage ns={ns} name={name} query={route.query} />;
  else if (section === 'workflows' && name) page = <WorkflowPage ns={ns} name={name} query={route.query} />;
  else if (section === 'executions' && !name) page = <ExecutionsPage ns={ns} query={route.query} />;
  else if (section === 'executions' && name) page = <ExecutionPage ns={ns} name={name} query={route.query} />;
  else if (section === 'compare') page = <ComparePage ns={ns} query={route.query} />;
  else if (section === 'live') page = <LiveNetworkPage ns={ns} query={route.query} />;
  else if (section === 'builder') page = <BuilderPage ns={ns} name={name} query={route.query} />;
  else if (section === 'templates') page = <TemplatesPage ns={ns} query={route.query} />;
  else if (section === 'playground') page = <PlaygroundPage ns={ns} query={route.query} />;
  else if (section === 'breakers') page = <CircuitBreakersPage />;
  else page = <ErrorView error={new Error(`no page at ${route.path}`)} what="this page" />;
  const current = navSection(section);
  return (
    <>
      <nav aria-label="Sections" className="sections">
        {NAV_SECTIONS.map((s) => (
          <a
            key={s.section}
            href={href(`/ns/${ns}/${s.section}`)}
            aria-current={current === s.section ? 'page' : undefined}
          >
            {s.label}
          </a>
        ))}
        <NamespacePicker ns={ns} section={current} />
      </nav>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading what="the page" />}>{page}</Suspense>
      </main>
    </>
  );
}

export function App() {
  const [config, setConfig] = useState<ConsoleConfig | Error | undefined>();
  const [signedIn, setSignedIn] = useState(() => bearerToken.get() !== undefined);
  const [theme, toggleTheme] = useTheme();
  useEffect(() => {
    fetch('config.json', { credentials: 'same-origin' })
      .then((r) =>
        r.ok ? (r.json() as Promise<ConsoleConfig>) : Promise.reject(new Error(`config.json: ${r.status}`)),
      )
      .then(setConfig, setConfig);
  }, []);
  const client = useMemo(
    () =>
      config && !(config instanceof Error)
        ? new KubeClient(config, () => {
            if (config.auth === 'bearer') {
              bearerToken.clear();
              setSignedIn(false);
            }
          })
        : undefined,
    [config],
  );
  const header = (
    <header className="top">
      <a
        className="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <a className="brand" href={href('/')}>
        syncflow
      </a>
      <div className="spacer" />
      {config && !(config instanceof Error) && config.auth === 'bearer' && signedIn ? (
        <button
          type="button"
          onClick={() => {
            bearerToken.clear();
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      ) : null}
      <button type="button" onClick={toggleTheme} className="theme-toggle">
        {theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}
      </button>
    </header>
  );
  if (config instanceof Error)
    return (
      <>
        {header}
        <main id="main">
          <ErrorView error={config} what="the console's configuration" />
        </main>
      </>
    );
  if (!config || !client)
    return (
      <>
        {header}
        <main id="main">
          <Loading what="the console" />
        </main>
      </>
    );
  if (config.auth === 'bearer' && !signedIn)
    return (
      <>
        {header}
        <SignIn onSignedIn={() => setSignedIn(true)} />
      </>
    );
  return (
    <ClientContext.Provider value={client}>
      {header}
      <Pages />
    </ClientContext.Provider>
  );
}
