// The Python side of the transformer pooler (models/pooler/train.py) for the tests: Debian's
// /usr/bin/python3 with python3-torch and python3-onnx (.ci/run installs them). Where they are
// missing the pooler tests skip with the reason; under CI they fail instead, so a broken setup
// cannot pass silently.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './helpers';

export const PYTHON = process.env.VIDSEARCH_PYTHON ?? (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
export const TRAIN_PY = path.join(REPO_ROOT, 'models', 'pooler', 'train.py');

let cached: string | undefined | null = null;

/** undefined when torch and onnx import; otherwise why not (the skip reason). */
export function torchMissing(): string | undefined {
  if (cached !== null) return cached;
  const r = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { encoding: 'utf8' });
  cached = r.status === 0 ? undefined : `${PYTHON} cannot import torch and onnx (apt-get install python3-torch python3-onnx): ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  if (cached && process.env.CI) throw new Error(cached);
  return cached;
}

/** Runs train.py; returns its JSON summary (the last line of stdout). */
export function trainPy(args: string[], opts: { threads?: number } = {}): Record<string, any> {
  // One thread: on a busy 2-core machine, PyTorch's spinning worker threads cost several times more than they give.
  const r = spawnSync(PYTHON, [TRAIN_PY, '--threads', String(opts.threads ?? 1), ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`train.py ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}
