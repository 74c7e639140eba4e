// What the video page shows instead of a player when there is nothing to play: a file that failed
// to index (its error, and the command that tries it again), or an indexed video whose file is not
// servable now (engine.fileStates: missing, changed, ...), with the command that fixes it when one does.
import type { FileState, VideoRecord } from '@/indexer/client';
import { fileStateLabel, fileStateNote, indexCommand, reindexFixes } from '@/app/lib/format';

function Command({ children }: { children: string }) {
  return (
    <pre className="command" data-testid="fix-command">
      <code>{children}</code>
    </pre>
  );
}

export function FileProblem({ video, fileState }: { video: VideoRecord; fileState: FileState }) {
  if (video.status === 'failed') {
    return (
      <section className="notice notice-error" role="alert" data-testid="video-error">
        <h2>This file could not be indexed</h2>
        <p className="library-error">{video.error}</p>
        <p>It is skipped until it changes. After fixing it (or to try again anyway), run:</p>
        <Command>{indexCommand(video.path, { retryFailed: true })}</Command>
      </section>
    );
  }
  if (video.status === 'pending') {
    return (
      <p className="notice" data-testid="video-pending">
        Not indexed yet: it plays once a worker has indexed it.
      </p>
    );
  }
  if (fileState === 'ok') return null;
  return (
    <section className="notice notice-error" role="alert" data-testid="file-state" data-state={fileState}>
      <h2>This video cannot be played: {fileStateLabel(fileState)}</h2>
      <p>{fileStateNote(fileState)}</p>
      {reindexFixes(fileState) && <Command>{indexCommand(video.path)}</Command>}
    </section>
  );
}

/** The status line: the row's status, and the file's state when it is not ok. */
export function VideoStatusLine({ video, fileState }: { video: VideoRecord; fileState: FileState }) {
  const label = fileStateLabel(fileState);
  return (
    <span className="status-line" data-testid="video-status">
      <span className={`status status-${video.status}`}>{video.status}</span>
      {label && (
        <span className="status status-failed" data-state={fileState}>
          {label}
        </span>
      )}
    </span>
  );
}
