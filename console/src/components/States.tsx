/** What a page shows while a request runs, when it failed, and when there is nothing to show. */
import type { ReactNode } from 'react';
import { ApiError } from '../api/client.ts';
import type { Loaded } from '../api/useResource.ts';

export function Loading({ what }: { what: string }) {
  return (
    <p className="state loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** An error; a 403 says which permission is missing (kube-apiserver's message names verb, resource and namespace). */
export function ErrorView({ error, what, onRetry }: { error: Error; what: string; onRetry?: () => void }) {
  const code = error instanceof ApiError ? error.code : undefined;
  const title =
    code === 403
      ? `You may not read ${what}`
      : code === 401
        ? 'Not signed in'
        : code === 404
          ? `${what} not found`
          : `Could not load ${what}`;
  return (
    <div className="state error" role="alert">
      <strong>{title}</strong>
      {code === 403 ? (
        <p>
          Permission missing: <code>{error.message}</code>. Ask a cluster administrator for a Role granting
          it.
        </p>
      ) : (
        <p>
          {code ? `${code}: ` : ''}
          {error.message}
        </p>
      )}
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

/** What came of an action the user started (a deploy, a checked run), in a sentence. */
export interface ActionResult {
  ok: boolean;
  text: string;
}

/** An action's result: announced politely when it worked, as an alert when it did not. */
export function ActionResultNote({ result }: { result: ActionResult | undefined }) {
  if (!result) return null;
  return (
    <p role={result.ok ? 'status' : 'alert'} className={result.ok ? 'note' : 'state error'}>
      {result.text}
    </p>
  );
}

/** Renders a loaded value, or its loading or error state. */
export function Show<T>({
  loaded,
  what,
  children,
}: {
  loaded: Loaded<T> & { reload?: () => void };
  what: string;
  children: (data: T) => ReactNode;
}) {
  if (loaded.state === 'loading') return <Loading what={what} />;
  if (loaded.state === 'error')
    return (
      <ErrorView error={loaded.error} what={what} {...(loaded.reload ? { onRetry: loaded.reload } : {})} />
    );
  return <>{children(loaded.data)}</>;
}
