/** Loading state of one request, for the page that shows it: loading, an error, or the data. */
import { useCallback, useEffect, useState } from 'react';

export type Loaded<T> = { state: 'loading' } | { state: 'error'; error: Error } | { state: 'ready'; data: T };

/** Runs `load` when `key` changes; `reload` runs it again. */
export function useResource<T>(
  load: (signal: AbortSignal) => Promise<T>,
  key: string,
): Loaded<T> & { reload: () => void } {
  const [result, setResult] = useState<Loaded<T>>({ state: 'loading' });
  const [round, setRound] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setResult({ state: 'loading' });
    load(controller.signal).then(
      (data) => !controller.signal.aborted && setResult({ state: 'ready', data }),
      (error: Error) => !controller.signal.aborted && setResult({ state: 'error', error }),
    );
    return () => controller.abort();
    // `load` is a new closure each render; `key` says when it means something else.
  }, [key, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...result, reload };
}
