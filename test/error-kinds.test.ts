// Callers branch on an error's kind, never on its message: the same text under another kind is
// answered by the kind (HTTP status, upload refusal, retry, damage hint).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DiskFullError, ERROR_KINDS, MediaError, StoreError, ToolError, UsageError, errorKind, isTransientError } from '../indexer/core/errors';
import { damageHint } from '../indexer/cli/cmd-doctor';
import { HttpError, describeError } from '../app/lib/http';
import { refuseUpload } from '../app/lib/upload';

const file = { name: 'clip.mp4', path: '/tmp/upload-1/clip.mp4' };
const NOT_A_VIDEO = { 'not-a-video': 415, usage: 415 } as const;

function refusal(err: unknown): unknown {
  try {
    refuseUpload(err, file, NOT_A_VIDEO);
  } catch (e) {
    return e;
  }
  assert.fail('refuseUpload returned');
}

describe('error kinds', () => {
  test('every engine error has a kind from ERROR_KINDS, set by its class or where it is raised', () => {
    assert.equal(errorKind(new UsageError('x')), 'usage');
    assert.equal(errorKind(new MediaError('x')), 'not-a-video');
    assert.equal(errorKind(new MediaError('x', { kind: 'timeout' })), 'timeout');
    assert.equal(errorKind(new DiskFullError('/data')), 'disk-full');
    assert.equal(errorKind(new ToolError('x', { kind: 'missing', tool: 'ffmpeg' })), 'tool-missing');
    assert.equal(errorKind(new ToolError('x', { kind: 'cannot-run', tool: 'ffmpeg' })), 'tool-missing');
    assert.equal(errorKind(new ToolError('x', { kind: 'crashed', tool: 'ffmpeg' })), 'tool-crashed');
    assert.equal(errorKind(new Error('not a video')), undefined);
    // Structural, as across Next.js bundles: a copy of the class elsewhere reads the same.
    assert.equal(errorKind(Object.assign(new Error('y'), { kind: 'tool-missing' })), 'tool-missing');
    assert.equal(errorKind(Object.assign(new Error('y'), { kind: 'nonsense' })), undefined);
    for (const k of ERROR_KINDS) assert.equal(errorKind(new MediaError('z', { kind: k })), k);
  });

  test('an upload: a missing ffmpeg is the server’s whatever its message; a file that is not a video is the client’s whatever its message', () => {
    const missing = new ToolError('not a video file: ffmpeg could not read it', { kind: 'missing', tool: 'ffmpeg' });
    assert.equal(refusal(missing), missing, 'a tool error is rethrown');
    const d = describeError(missing);
    assert.equal(d.status, 503);
    assert.equal(d.message, missing.message);
    const broken = new ToolError('ffmpeg is broken: killed by SIGSEGV', { kind: 'cannot-run', tool: 'ffmpeg' });
    assert.equal(refusal(broken), broken);
    assert.equal(describeError(broken).status, 503);
    const crashed = new ToolError('ffmpeg crashed', { kind: 'crashed', tool: 'ffmpeg' });
    assert.equal(describeError(crashed).status, 500);

    const bad = refusal(new MediaError(`ffmpeg not found reading ${file.path}`)) as HttpError;
    assert.ok(bad instanceof HttpError);
    assert.equal(bad.status, 415);
    assert.equal(bad.message, 'clip.mp4: ffmpeg not found reading clip.mp4');
    const store = new StoreError('not a video');
    assert.equal(refusal(store), store, 'a kind the caller does not list is rethrown');
  });

  test('retries and hints follow the kind and codes', () => {
    assert.equal(isTransientError(new MediaError('anything', { kind: 'timeout' })), true);
    assert.equal(isTransientError(new MediaError('ffprobe timed out after 30 s')), false);
    assert.equal(isTransientError(new DiskFullError('/data')), true);
    const corrupt = Object.assign(new Error('disk I/O'), { code: 'SQLITE_CORRUPT' });
    assert.match(damageHint(new StoreError('cannot read', { cause: corrupt })) ?? '', /vidsearch doctor/);
    assert.equal(damageHint(new StoreError('something else')), undefined);
  });
});
