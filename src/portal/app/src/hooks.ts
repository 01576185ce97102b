import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiError } from './api.ts';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | Error | null;
  loading: boolean;
  /** Fetches again now. */
  reload: () => Promise<void>;
  updatedAt: number | null;
}

/**
 * Loads with `fetcher` when `key` changes and, with `pollMs`, again every pollMs while the page
 * is visible (without overlapping requests), so lists follow the server without a reload.
 */
export function useLoad<T>(fetcher: () => Promise<T>, key: string, pollMs?: number): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: ApiError | Error | null; loading: boolean; updatedAt: number | null; key: string }>({
    data: undefined,
    error: null,
    loading: true,
    updatedAt: null,
    key,
  });
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const inFlight = useRef(false);
  const keyRef = useRef(key);
  keyRef.current = key;

  const run = useCallback(async () => {
    if (inFlight.current) return;
    inFlight.current = true;
    const forKey = keyRef.current;
    try {
      const data = await fetcherRef.current();
      if (keyRef.current === forKey) setState({ data, error: null, loading: false, updatedAt: Date.now(), key: forKey });
    } catch (e) {
      if (keyRef.current === forKey) setState((s) => ({ ...s, error: e as Error, loading: false, key: forKey }));
    } finally {
      inFlight.current = false;
    }
  }, []);

  useEffect(() => {
    setState((s) => (s.key === key ? s : { data: undefined, error: null, loading: true, updatedAt: null, key }));
    inFlight.current = false;
    void run();
    if (!pollMs) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') void run();
    }, pollMs);
    const onVisible = () => {
      if (document.visibilityState === 'visible') void run();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [key, pollMs, run]);

  const same = state.key === key;
  return { data: same ? state.data : undefined, error: same ? state.error : null, loading: same ? state.loading : true, reload: run, updatedAt: state.updatedAt };
}

/** Runs an action, keeping its busy flag and last error/message for the UI. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const run = useCallback(async <T>(f: () => Promise<T>, success?: string | ((r: T) => string)): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    setMessage(null);
    try {
      const r = await f();
      if (success) setMessage(typeof success === 'string' ? success : success(r));
      return r;
    } catch (e) {
      setError((e as Error).message);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, message, run, setError, setMessage };
}

/** How often lists ask the server for changes. */
export const POLL_MS = 4000;
