// What the search page shows until the model is in place: the download's progress, or, offline,
// the files to place by hand and where; or why the model is missing and what to set. The library
// and actions pages need no model and keep working.
import type { ModelJson } from '@/app/lib/dto';
import { ModelProgress } from '@/app/ui/model-progress';

function TryDemo() {
  return (
    <p>
      To try vidsearch meanwhile, <code>npm run demo</code> serves sample videos with the project&apos;s small test model, offline.
    </p>
  );
}

export function ModelSetup({ state }: { state: ModelJson }) {
  // key: a new phase starts a new polling loop
  const live = <ModelProgress key={state.phase} initial={state} />;
  if (state.phase === 'downloading') {
    return (
      <section className="notice model-setup" data-testid="model-setup" data-phase={state.phase} aria-labelledby="model-setup-title">
        <h2 id="model-setup-title">Downloading the search model</h2>
        <p>
          vidsearch is fetching <strong>{state.model}</strong> ({state.variant}) from <code>{state.endpoint}</code> into <code>{state.dir}</code>, once. Search opens here by
          itself when it is done; the Library and Actions pages work meanwhile.
        </p>
        {live}
        {state.message && <p className="hint">{state.message}</p>}
      </section>
    );
  }
  if (state.phase === 'offline') {
    return (
      <section className="notice notice-error model-setup" data-testid="model-setup" data-phase={state.phase} aria-labelledby="model-setup-title">
        <h2 id="model-setup-title">Offline: the search model cannot be downloaded</h2>
        <p>
          No network answered at <code>{state.endpoint}</code>, so <strong>{state.model}</strong> is not downloaded yet. vidsearch tries again every 30 seconds.
        </p>
        <p>
          To install it by hand, fetch these files on a connected machine (each link is the file&apos;s address, under <code>{state.files?.[0]?.url.slice(0, -state.files[0].path.length)}</code>)
          and place each at exactly the path shown:
        </p>
        <ul className="model-files" data-testid="model-files">
          {state.files?.map((f) => (
            <li key={f.target}>
              <a href={f.url} className="model-file-url">
                {f.path}
              </a>
              <span aria-hidden="true"> → </span>
              <span className="visually-hidden"> goes to </span>
              <code className="model-file-target">{f.target}</code>
            </li>
          ))}
        </ul>
        <p>
          Or point <code>HF_ENDPOINT</code> at a reachable Hugging Face mirror before <code>npm start</code>, e.g. <code>HF_ENDPOINT=https://my-mirror npm start</code>.
        </p>
        <TryDemo />
        {live}
      </section>
    );
  }
  return (
    <section className="notice notice-error model-setup" data-testid="model-setup" data-phase={state.phase} aria-labelledby="model-setup-title">
      <h2 id="model-setup-title">{state.phase === 'failed' ? 'The model download failed' : 'No search model'}</h2>
      {/* the engine's own message, under the test id the engine-error notice has elsewhere */}
      <p data-testid="engine-error">{state.message}</p>
      {state.phase === 'failed' && (
        <p>
          Restarting <code>npm start</code> tries again, resuming what was downloaded; <code>npx vidsearch models pull</code> does the same in a terminal.
        </p>
      )}
      {state.phase === 'missing' && !state.autoPull && (
        <p>
          vidsearch downloads only the default model by itself (when <code>VIDSEARCH_MODEL</code> is unset or names a registry model, and <code>VIDSEARCH_AUTO_PULL</code> is not{' '}
          <code>0</code>); place the model folder at <code>{state.dir}</code>, or run <code>npx vidsearch models pull</code>. This page notices it within seconds.
        </p>
      )}
      <TryDemo />
      {live}
    </section>
  );
}
