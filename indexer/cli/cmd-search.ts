// `vidsearch search`: videos and the moments in them, by text, by a moment (--like) or by a picture.
import fs from 'node:fs';
import { openEngine } from '../services/engine';
import { UsageError } from '../core/errors';
import { ImageSearchFields, MAX_K, MAX_OFFSET, parseSearchRequest, splitLike } from '../core/search-request';
import { CONFIG_GROUP, RERANKING, configFrom, json } from './options';
import { clock, err, out, parseCommand, type Command } from './command';

export const search: Command = {
  name: 'search',
  summary: ['vidsearch search "<text>"', 'find videos and the moments in them (or --like ID@S, --image F)'],
  usage: `Usage: vidsearch search "<text>" [--k 10] [--offset 0] [--json]
       vidsearch search --like <videoId>@<seconds> [--k 10] [--offset 0] [--json]
       vidsearch search --image <file> [--k 10] [--json]`,
  options: [
    {
      like: { type: 'string', value: 'ID@SECONDS', help: 'more like that moment: the indexed frame nearest it is the query; its own segment and the neighbouring ones are left out, and its video comes last' },
      image: { type: 'string', value: 'FILE', help: 'search with a picture (PNG, JPEG, WebP, BMP, TIFF), read as a frame is' },
      k: { type: 'string', value: 'N', help: 'number of videos', range: `1-${MAX_K}`, default: '10' },
      offset: { type: 'string', value: 'N', help: 'skip the best N videos: the next page of --k N is --offset N', range: `0-${MAX_OFFSET}` },
    },
    RERANKING,
    json('{"query","tookMs","offset","more","closeMatch","results":[...]}'),
  ],
  groups: [CONFIG_GROUP],
  footer: `Each video shows its match (0-100: how clearly it stands above what the library scores for this
query; 50 and up is a close match) and its cosine. When nothing is a close match, it says so and
shows the closest.`,
  async main(args) {
    const parsed = parseCommand(search, args);
    if (!parsed) return 0;
    const { values, positionals } = parsed;
    const query = positionals.join(' ');
    const like = typeof values.like === 'string' ? splitLike(values.like) : undefined;
    const image = values.image as string | undefined;
    if (image !== undefined && (like || query.trim())) throw new UsageError('give a query, --like or --image, not two of them');
    if (image === undefined && !like && !query.trim()) throw new UsageError('search needs a query: vidsearch search "a dog catching a frisbee" (or --like <videoId>@<seconds>, --image <file>)');
    // The API's schema (GET /api/search), so that both refuse the same things.
    const k = values.k as string | undefined;
    const offset = values.offset as string | undefined;
    const req = image === undefined ? parseSearchRequest({ q: query.trim() ? query : undefined, ...like, k, offset }) : { ...parseSearchRequest({ k }, ImageSearchFields), q: undefined, like: undefined, t: undefined, offset: 0 };
    if (image !== undefined && !fs.statSync(image, { throwIfNoEntry: false })?.isFile()) throw new UsageError(`no such file: ${image}`, { cause: { file: image } });
    // One query per process: the text encoder is loaded lean (model.ts, oneQuery).
    const engine = await openEngine(configFrom(values), { oneQuery: true });
    try {
      const res =
        image !== undefined ? await engine.searcher.searchImage(image, { k: req.k }) : req.like !== undefined ? await engine.searcher.searchLike(req.like, req.t!, { k: req.k, offset: req.offset }) : await engine.searcher.search(req.q!, { k: req.k, offset: req.offset });
      if (values.json) {
        out(JSON.stringify(res, null, 2));
        return 0;
      }
      if (res.results.length === 0) {
        const stats = await engine.store.stats();
        out(stats.videos.indexed ? `no results for "${res.query}"` : 'no videos indexed yet: run `vidsearch index <folder>`');
        return 0;
      }
      if (!res.closeMatch) out(`no close match for "${res.query}": showing the closest`);
      res.results.forEach((r, i) => {
        out(`${res.offset + i + 1}. ${r.path}`);
        out(`   match ${r.match ?? '-'} (cosine ${r.score.toFixed(3)})  best moment ${clock(r.bestTime)} (in ${clock(r.start)}-${clock(r.end)})`);
        const others = r.moments.slice(1).map((m) => `${clock(m.bestTime)} (match ${m.match ?? '-'})`);
        if (others.length) out(`   also: ${others.join(', ')}`);
      });
      err(`${res.results.length} videos in ${res.tookMs} ms${res.more ? `; more: --offset ${res.offset + req.k}` : ''}`);
      return 0;
    } finally {
      await engine.close();
    }
  },
};
