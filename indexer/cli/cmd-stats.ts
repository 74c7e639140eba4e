// `vidsearch stats`: what the index holds, and the ffmpeg/ffprobe in use.
import { errorMessage } from '../core/errors';
import { readDaemonStatus } from '../services/daemon';
import { toolReport, toolReportLines, type ToolReport } from '../io/ffmpeg/media';
import { Store } from '../io/db/store';
import { listLibraries, openWork } from '../services/libraries';
import { redactUrl } from '../services/config';
import { CONFIG_GROUP, configFrom, json } from './options';
import { out, parseCommand, type Command } from './command';

export const stats: Command = {
  name: 'stats',
  summary: ['vidsearch stats', 'what the index holds'],
  usage: 'Usage: vidsearch stats [--json]',
  about: `Videos by status, segments, frames, the model in use and the index size; the libraries, the job
queue by state and each worker seen (host, pid, current job, last heartbeat); the ffmpeg and ffprobe
in use (paths, versions) and whether they decode H.264, HEVC, VP9 and AV1.`,
  options: [json('{"home","videos","segments","index","libraries","queue","workers","daemon","tools",...}')],
  groups: [CONFIG_GROUP],
  async main(args) {
    const parsed = parseCommand(stats, args);
    if (!parsed) return 0;
    const { values } = parsed;
    const cfg = configFrom(values);
    const store = await Store.open(cfg);
    try {
      const s = await store.stats();
      const daemon = readDaemonStatus(cfg.home) ?? null;
      const work = await openWork(cfg);
      const [libraries, queue, workers, running] = await Promise.all([listLibraries(work), work.queue.counts(), work.queue.workers(), work.queue.list({ states: ['running'], limit: 50 })]).finally(() => work.close());
      // Missing or broken tools are part of the answer, not a reason to fail the command.
      const tools: ToolReport | { error: string } = await toolReport().catch((err: unknown) => ({ error: errorMessage(err) }));
      if (values.json) {
        out(JSON.stringify({ home: cfg.home, database: redactUrl(cfg.databaseUrl), ...s, libraries, queue, workers, daemon, tools }, null, 2));
        return 0;
      }
      out(`data directory  ${cfg.home}`);
      out(`database        ${redactUrl(cfg.databaseUrl)}`);
      out(`videos          ${s.videos.total} (${s.videos.indexed} indexed, ${s.videos.failed} failed, ${s.videos.pending} pending)`);
      out(`segments        ${s.segments}`);
      out(`frames          ${s.frames}`);
      out(`model           ${s.identity ? `${s.identity.model.name} (${s.identity.model.variant}, ${s.identity.model.dim}-d, ${s.identity.pooling} pooling)` : 'none yet'}`);
      out(`index           ${s.index.vectors} vectors, ${(s.index.bytes / 1e6).toFixed(1)} MB, ${s.index.search}${s.index.inStep ? '' : ' (out of step: rebuilt on next use)'}`);
      if (s.index.rebuilt) out(`                rebuilt from the database just now: the published file ${s.index.rebuilt}`);
      for (const l of libraries) out(`library         ${l.path}: ${l.videos.indexed} indexed, ${l.videos.failed} failed${l.queued + l.running ? `, ${l.queued + l.running} to do` : ''} · ${l.watch ? `watching (${l.mode})` : 'not watching'}`);
      if (queue) out(`queue           ${queue.queued} queued, ${queue.running} running, ${queue.done} done, ${queue.failed} failed`);
      for (const w of workers) {
        const job = running.find((j) => j.id === w.jobId);
        out(`worker          ${w.host} pid ${w.pid}${w.live ? '' : ' (no heartbeat: gone?)'}, last beat ${new Date(w.heartbeatAt).toISOString()}${job ? `, ${job.kind} ${job.key}` : ', idle'}`);
      }
      if (daemon) {
        out(`daemon          pid ${daemon.pid}, ${daemon.state}, ${daemon.queue} queued${daemon.current.length ? `, indexing ${daemon.current.join(', ')}` : ''}`);
        for (const f of daemon.recentFailures.slice(-5)) out(`  failed ${f.at}: ${f.path}: ${f.error}`);
      }
      if ('error' in tools) out(`ffmpeg          ${tools.error}`);
      else for (const line of toolReportLines(tools)) out(line);
      return 0;
    } finally {
      await store.close();
    }
  },
};
