import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, api, keyStore, setUnauthorizedHandler, STATUSES, TERMINAL, type Job, type JobEvent } from './api.js';
import './style.css';

// ---------------------------------------------------------------- small pieces

function useHashRoute(): string {
  const [hash, setHash] = useState(location.hash || '#/jobs');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/jobs');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

/** Calls `load` now and every `ms` while `live`; returns the latest value and error. */
function usePoll<T>(
  load: () => Promise<T>,
  deps: unknown[],
  ms: number,
  live = true,
): { data?: T; error?: string; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stop = false;
    let timer: number | undefined;
    const run = async () => {
      try {
        const data = await load();
        if (!stop) setState({ data });
      } catch (e) {
        if (!stop) setState((s) => ({ ...s, error: e instanceof Error ? e.message : String(e) }));
      }
      if (!stop && live) timer = window.setTimeout(run, ms);
    };
    void run();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [...deps, live, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

function relative(iso: string | undefined): string {
  if (!iso) return '—';
  const sec = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const abs = Math.abs(sec);
  const text =
    abs < 5
      ? 'just now'
      : abs < 60
        ? `${abs} s`
        : abs < 3600
          ? `${Math.floor(abs / 60)} min`
          : abs < 86400
            ? `${Math.floor(abs / 3600)} h`
            : `${Math.floor(abs / 86400)} d`;
  return abs < 5 ? text : sec >= 0 ? `${text} ago` : `in ${text}`;
}

const Time = ({ at }: { at?: string }) =>
  at ? (
    <time dateTime={at} title={new Date(at).toISOString()}>
      {relative(at)}
    </time>
  ) : (
    <span>—</span>
  );

/** A state is colour plus its name in text, so it reads without colour too. */
const Status = ({ status }: { status: string }) => (
  <span class={`status st-${status}`} data-status={status}>
    {status}
  </span>
);

function Progress({ job }: { job: Job }) {
  const p = job.progress;
  const ratio = job.status === 'succeeded' ? 1 : p && p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  return (
    <div
      class="progress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(ratio * 100)}
    >
      <div class={`bar st-${job.status}`} style={{ width: `${Math.round(ratio * 100)}%` }} />
      <span>{p ? `${p.done} / ${p.total} ${p.unit}` : `${Math.round(ratio * 100)}%`}</span>
    </div>
  );
}

const Err = ({ error }: { error?: string }) =>
  error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;

// ---------------------------------------------------------------- key prompt

function KeyPrompt({ onDone }: { onDone: () => void }) {
  const [value, setValue] = useState('');
  return (
    <form
      class="card key"
      onSubmit={(e) => {
        e.preventDefault();
        keyStore.set(value.trim());
        onDone();
      }}
    >
      <h2>Function key</h2>
      <p>
        The API needs a function key. It is kept in this tab only (sessionStorage) and sent as the{' '}
        <code>x-functions-key</code> header.
      </p>
      <label>
        Key{' '}
        <input
          type="password"
          name="key"
          autocomplete="off"
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        />
      </label>
      <button type="submit">Continue</button>
      <small>Leave it empty for a local runner without LOCAL_API_KEY.</small>
    </form>
  );
}

// ---------------------------------------------------------------- jobs

function JobsPage() {
  const [filters, setFilters] = useState({ status: '', queue: '', provider: '', label: '' });
  const [tokens, setTokens] = useState<string[]>([]);
  const [live, setLive] = useState(true);
  const token = tokens[tokens.length - 1];
  const { data, error } = usePoll(
    () => {
      const q = new URLSearchParams({ limit: '25', view: 'full' });
      for (const k of ['status', 'queue', 'provider'] as const) if (filters[k]) q.set(k, filters[k]);
      if (token) q.set('continuationToken', token);
      return api<{ jobs: Job[]; continuationToken?: string }>(`/jobs?${q}`);
    },
    [filters.status, filters.queue, filters.provider, token],
    3000,
    live,
  );
  const set = (k: keyof typeof filters) => (e: Event) => {
    setFilters({ ...filters, [k]: (e.target as HTMLInputElement).value });
    setTokens([]);
  };
  // Labels have no index in the store: the label filter narrows the page shown.
  const [lk, lv] = filters.label.split('=');
  const jobs = (data?.jobs ?? []).filter(
    (j) => !filters.label || (lk && (lv === undefined ? lk in (j.spec?.labels ?? {}) : j.spec?.labels?.[lk] === lv)),
  );
  return (
    <section>
      <h2>Jobs</h2>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select name="status" value={filters.status} onChange={set('status')}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Queue <input name="queue" value={filters.queue} onChange={set('queue')} placeholder="spark-jobs" />
        </label>
        <label>
          Provider <input name="provider" value={filters.provider} onChange={set('provider')} placeholder="local" />
        </label>
        <label>
          Label <input name="label" value={filters.label} onInput={set('label')} placeholder="team=forecasting" />
        </label>
        <label class="check">
          <input type="checkbox" checked={live} onChange={() => setLive(!live)} /> live
        </label>
      </form>
      <Err error={error} />
      <table class="jobs">
        <thead>
          <tr>
            <th>Job</th>
            <th>Status</th>
            <th>Queue</th>
            <th>Provider</th>
            <th class="wide">Labels</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => (
            <tr data-job={j.id}>
              <td>
                <a href={`#/jobs/${j.id}`}>{j.id}</a>
              </td>
              <td>
                <Status status={j.status} />
              </td>
              <td>{j.queue ?? j.decision?.queue ?? '—'}</td>
              <td>{j.provider ?? j.decision?.provider ?? '—'}</td>
              <td class="wide">
                {Object.entries(j.spec?.labels ?? {}).map(([k, v]) => (
                  <span class="label">
                    {k}={v}
                  </span>
                ))}
              </td>
              <td>
                <Time at={j.createdAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && jobs.length === 0 && <p class="muted">No jobs match.</p>}
      <nav class="pager">
        <button type="button" disabled={tokens.length === 0} onClick={() => setTokens(tokens.slice(0, -1))}>
          ← Newer
        </button>
        <button
          type="button"
          disabled={!data?.continuationToken}
          onClick={() => data?.continuationToken && setTokens([...tokens, data.continuationToken])}
        >
          Older →
        </button>
      </nav>
    </section>
  );
}

// ---------------------------------------------------------------- one job

function CostBreakdown({ job }: { job: Job }) {
  const d = job.decision;
  if (!d) return <p class="muted">Not classified yet.</p>;
  const w = d.weights;
  const factor =
    d.inputs.priority === 'high' ? w.highPriorityFactor : d.inputs.priority === 'low' ? w.lowPriorityFactor : 1;
  const rowsCost = d.inputs.rows * w.perRow;
  const timeCost = d.inputs.estimated_runtime_sec * w.perSecond;
  const n = (x: number) => Math.round(x * 1000) / 1000;
  return (
    <div class="decision">
      <p class="explanation">{d.explanation}</p>
      <dl>
        <dt>Queue → provider</dt>
        <dd>
          {d.queue} → {d.provider}
        </dd>
        <dt>Rule</dt>
        <dd>
          {d.rule} (preset {d.preset})
        </dd>
      </dl>
      <table class="cost">
        <tbody>
          <tr>
            <td>rows</td>
            <td>
              {d.inputs.rows} × {w.perRow}
            </td>
            <td>{n(rowsCost)}</td>
          </tr>
          <tr>
            <td>runtime</td>
            <td>
              {d.inputs.estimated_runtime_sec} s × {w.perSecond}
            </td>
            <td>{n(timeCost)}</td>
          </tr>
          <tr>
            <td>priority</td>
            <td>
              {d.inputs.priority} × {factor}
            </td>
            <td />
          </tr>
          <tr class="total">
            <td>cost</td>
            <td>
              ml &gt; {w.mlThreshold}, spark &gt; {w.sparkThreshold}
            </td>
            <td>{d.cost === null ? '—' : n(d.cost)}</td>
          </tr>
        </tbody>
      </table>
      <PriceEstimates job={job} />
    </div>
  );
}

const money = (v: number | null, currency: string) => (v === null ? '— (no price)' : `${currency} ${v.toFixed(4)}`);
const instances = (g: { instanceType: string; count: number }[]) =>
  g.map((i) => `${i.count} × ${i.instanceType}`).join(' + ');

/** Estimated cost per candidate target (price table) and, once finished, the actual cost. */
function PriceEstimates({ job }: { job: Job }) {
  const e = job.decision?.costEstimates;
  const c = job.cost;
  if (!e && !c) return null;
  return (
    <>
      {job.budgetHold && (
        <p class="muted">
          Held by budget {job.budgetHold.budget}: {job.budgetHold.spent} of {job.budgetHold.limit} spent, checked{' '}
          {job.budgetHold.checks} time(s).
        </p>
      )}
      {e && (
        <table class="cost estimates">
          <thead>
            <tr>
              <th>Target</th>
              <th>Instances</th>
              <th>Billed</th>
              <th>Estimate</th>
            </tr>
          </thead>
          <tbody>
            {e.candidates.map((k) => (
              <tr class={k.chosen ? 'total' : ''} title={k.missingPrice ? `no price for ${k.missingPrice}` : ''}>
                <td>
                  {k.queue} → {k.provider}
                  {k.chosen ? ' (chosen)' : ''}
                </td>
                <td>{instances(k.instances)}</td>
                <td>{k.billedSec} s</td>
                <td>{money(k.estimatedCost, e.currency)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {c && (
        <p class="actual-cost">
          Actual cost: <strong>{money(c.actual, c.currency)}</strong> ({instances(c.instances)}, {c.billedSec} s billed,{' '}
          {c.basis}){c.estimated !== null && <> — estimated {money(c.estimated, c.currency)}</>}
        </p>
      )}
    </>
  );
}

function providerLink(job: Job): string | undefined {
  for (const v of Object.values(job.providerRef ?? {})) if (typeof v === 'string' && /^https:\/\//.test(v)) return v;
  return undefined;
}

function JobPage({ id }: { id: string }) {
  const [done, setDone] = useState(false);
  const [cancelError, setCancelError] = useState<string>();
  const job = usePoll(() => api<Job>(`/jobs/${encodeURIComponent(id)}`), [id], 1000, !done);
  const events = usePoll(
    () => api<{ events: JobEvent[] }>(`/jobs/${encodeURIComponent(id)}/events`),
    [id],
    1500,
    !done,
  );
  const logs = usePoll(
    () => api<{ stdout: string; stderr: string; source: string }>(`/jobs/${encodeURIComponent(id)}/logs?tail=8192`),
    [id],
    2000,
    !done,
  );
  const j = job.data;
  const terminal = !!j && TERMINAL.includes(j.status);
  const result = usePoll(
    () =>
      j && (j.status === 'succeeded' || j.status === 'failed')
        ? api<Record<string, unknown>>(`/jobs/${encodeURIComponent(id)}/result`)
        : Promise.resolve(undefined),
    [id, j?.status],
    5000,
    false,
  );
  // One last read of everything once the job has ended, then stop polling.
  useEffect(() => {
    if (terminal && !done) {
      events.reload();
      logs.reload();
      setDone(true);
    }
  }, [terminal]);
  const cancel = useCallback(async () => {
    if (!confirm(`Cancel job ${id}? A running job is stopped at its provider.`)) return;
    try {
      await api(`/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
      setCancelError(undefined);
      job.reload();
    } catch (e) {
      setCancelError(e instanceof ApiError ? e.message : String(e));
    }
  }, [id]);
  if (!j) return <Err error={job.error ?? undefined} />;
  const link = providerLink(j);
  return (
    <section class="job">
      <p>
        <a href="#/jobs">← Jobs</a>
      </p>
      <header class="job-head">
        <h2>{j.id}</h2>
        <Status status={j.status} />
        {!terminal && j.status !== 'cancelling' && (
          <button type="button" class="danger" onClick={cancel}>
            Cancel job
          </button>
        )}
      </header>
      <Err error={cancelError ?? job.error} />
      <Progress job={j} />
      <dl class="facts">
        <dt>Created</dt>
        <dd>
          <Time at={j.createdAt} />
        </dd>
        <dt>Started</dt>
        <dd>
          <Time at={j.startedAt} />
        </dd>
        <dt>Finished</dt>
        <dd>
          <Time at={j.finishedAt} />
        </dd>
        <dt>Provider</dt>
        <dd>
          {j.provider ?? '—'}
          {link && (
            <>
              {' '}
              <a href={link} target="_blank" rel="noopener noreferrer">
                open at provider ↗
              </a>
            </>
          )}
        </dd>
        <dt>Attempts</dt>
        <dd>{j.attempts ?? 0}</dd>
      </dl>
      {j.error && (
        <p class="error">
          {j.error.code}: {j.error.message}
        </p>
      )}
      <div class="grid">
        <div class="card">
          <h3>Routing decision</h3>
          <CostBreakdown job={j} />
        </div>
        <div class="card">
          <h3>Timeline</h3>
          <ol class="timeline">
            {(events.data?.events ?? []).map((e) => (
              <li class={`ev-${e.type}`}>
                <Time at={e.at} /> <Status status={e.to} /> <span>{e.reason}</span>
              </li>
            ))}
          </ol>
        </div>
      </div>
      <div class="card">
        <h3>
          Logs{' '}
          <small>
            {terminal ? '' : '(following)'} {logs.data?.source}
          </small>
        </h3>
        <pre class="logs">
          {`${logs.data?.stdout ?? ''}${logs.data?.stderr ? `\n--- stderr ---\n${logs.data.stderr}` : ''}` ||
            '(no output yet)'}
        </pre>
      </div>
      {result.data && (
        <div class="card">
          <h3>Result</h3>
          <pre class="result">{JSON.stringify(result.data, null, 2)}</pre>
        </div>
      )}
    </section>
  );
}

// ---------------------------------------------------------------- queues and providers

function QueuesPage() {
  const { data, error } = usePoll(
    () => api<Record<string, { active: number; deadLetter: number; scheduled: number }>>('/queues/status?detail=true'),
    [],
    3000,
  );
  return (
    <section>
      <h2>Queues</h2>
      <Err error={error} />
      <table>
        <thead>
          <tr>
            <th>Queue</th>
            <th>Waiting</th>
            <th>Dead letters</th>
            <th>Scheduled</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(data ?? {}).map(([q, d]) => (
            <tr data-queue={q}>
              <td>{q}</td>
              <td>{d.active}</td>
              <td class={d.deadLetter > 0 ? 'warn' : ''}>{d.deadLetter > 0 ? `${d.deadLetter} ⚠` : 0}</td>
              <td>{d.scheduled}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

interface ProviderState {
  name: string;
  configured: boolean;
  activeJobs: number | null;
  lastPollAt: string | null;
  lastPollError: string | null;
  backingOffUntil: string | null;
  capacity: {
    concurrent: number | null;
    createsPerMin: number | null;
    inUse: number | null;
    tokens: number | null;
    waiting: number | null;
    lastRefusal: { at: string; code: string; message: string } | null;
    backingOffUntil: string | null;
  } | null;
}

/** "3 / 20 running · 41 / 60 creations left · 2 waiting", from the admission state. */
function capacityText(c: NonNullable<ProviderState['capacity']>): string {
  const parts: string[] = [];
  if (c.concurrent !== null) parts.push(`${c.inUse ?? '?'} / ${c.concurrent} running`);
  if (c.createsPerMin !== null) parts.push(`${c.tokens ?? '?'} / ${c.createsPerMin} creations left this minute`);
  if (c.waiting) parts.push(`${c.waiting} waiting`);
  return parts.length > 0 ? parts.join(' · ') : 'no cap';
}

function ProvidersPage() {
  const { data, error } = usePoll(() => api<{ providers: ProviderState[] }>('/providers'), [], 5000);
  return (
    <section>
      <h2>Providers</h2>
      <Err error={error} />
      <table>
        <thead>
          <tr>
            <th>Provider</th>
            <th>Configured</th>
            <th>Active jobs</th>
            <th>Last poll</th>
            <th>Back-off</th>
            <th>Capacity</th>
          </tr>
        </thead>
        <tbody>
          {(data?.providers ?? []).map((p) => (
            <tr data-provider={p.name}>
              <td>{p.name}</td>
              <td>
                <span class={`status ${p.configured ? 'st-succeeded' : 'st-off'}`}>
                  {p.configured ? 'configured' : 'not configured'}
                </span>
              </td>
              <td>{p.activeJobs ?? '—'}</td>
              <td>
                {p.name === 'worker' ? 'heartbeats' : <Time at={p.lastPollAt ?? undefined} />}
                {p.lastPollError && <div class="error">{p.lastPollError}</div>}
              </td>
              <td>
                {p.backingOffUntil ? (
                  <span class="status st-cancelling">
                    until <Time at={p.backingOffUntil} />
                  </span>
                ) : (
                  'no'
                )}
              </td>
              <td>
                {p.capacity ? capacityText(p.capacity) : '—'}
                {p.capacity?.lastRefusal && (
                  <div class="muted">
                    refused {p.capacity.lastRefusal.code} <Time at={p.capacity.lastRefusal.at} />
                    {p.capacity.backingOffUntil && (
                      <>
                        {' '}
                        · back-off until <Time at={p.capacity.backingOffUntil} />
                      </>
                    )}
                  </div>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">
        Last poll and back-off are as seen by the instance that answered; capacity is shared by all instances.
      </p>
    </section>
  );
}

// ---------------------------------------------------------------- shell

function App() {
  const route = useHashRoute();
  const [hasKey, setHasKey] = useState(keyStore.get() !== null);
  useEffect(
    () =>
      setUnauthorizedHandler(() => {
        keyStore.clear();
        setHasKey(false);
      }),
    [],
  );
  const [, page, id] = route.split('/');
  const nav = (name: string, label: string) => (
    <a href={`#/${name}`} aria-current={page === name ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <>
      <header class="top">
        <h1>Cloud Job Orchestrator</h1>
        <nav>
          {nav('jobs', 'Jobs')}
          {nav('queues', 'Queues')}
          {nav('providers', 'Providers')}
          {hasKey && (
            <button
              type="button"
              class="link"
              onClick={() => {
                keyStore.clear();
                setHasKey(false);
              }}
            >
              Forget key
            </button>
          )}
        </nav>
      </header>
      <main>
        {!hasKey ? (
          <KeyPrompt onDone={() => setHasKey(true)} />
        ) : page === 'jobs' && id ? (
          <JobPage key={id} id={decodeURIComponent(id)} />
        ) : page === 'queues' ? (
          <QueuesPage />
        ) : page === 'providers' ? (
          <ProvidersPage />
        ) : (
          <JobsPage />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
