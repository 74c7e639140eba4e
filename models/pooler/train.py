#!/usr/bin/env python3
"""Train vidsearch's temporal pooler (CLIP4Clip seqTransf) and export it as pooler.onnx.

Input: a features folder written by `vidsearch export-features` (format below). Output: <out>/pooler.onnx
(inputs frame_embeds f32[B,T,D] and frame_mask i64[B,T], output video_embeds f32[B,D]) and
<out>/pooler.json (architecture, chunk length, training summary). Serve it with
`vidsearch index --pooling transformer` (it looks for pooler.onnx in the model folder, or --pooler).

Loss: CLIP4Clip's symmetric InfoNCE over a batch of (caption, video) pairs,
    logits = logit_scale * text @ video.T,  loss = (CE(logits, diag) + CE(logits.T, diag)) / 2,
with the CLIP encoders frozen (their vectors are the exported features) and logit_scale fixed at
CLIP's 100. Only the pooler trains.

Features folder (vidsearch-features/1):
    features.json  {"format": "vidsearch-features/1", "dim": D, "model": {...}, "fps": f,
                    "frames": "frames.f32", "texts": "texts.f32",
                    "videos": [{"path", "frameOffset", "frameCount", "times": [...]}, ...],
                    "captions": [{"video": <index into videos>, "text": "..."}, ...]}
    frames.f32     little-endian float32 [total frames, D]: each video's L2-normalized frame vectors
                   in time order, at rows frameOffset .. frameOffset + frameCount
    texts.f32      little-endian float32 [captions, D]: the L2-normalized text vector of caption i

Runs on CPU with Debian's python3-torch (PyTorch 1.13) and python3-onnx:
    /usr/bin/python3 models/pooler/train.py --features feats/train --val-features feats/test \\
        --out models/clip-vit-base-patch32
"""
import argparse
import json
import math
import os
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seqtransf import SeqTransfPooler, default_heads, mean_pool_groups, pool_groups  # noqa: E402

FEATURES_FORMAT = "vidsearch-features/1"
POOLER_FORMAT = "vidsearch-pooler/1"
OPSET = 14


def log(msg: str) -> None:
    print(f"[train] {msg}", file=sys.stderr, flush=True)


class Features:
    def __init__(self, folder: str):
        with open(os.path.join(folder, "features.json"), encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("format") != FEATURES_FORMAT:
            raise SystemExit(f"{folder}: not a {FEATURES_FORMAT} features folder (format {meta.get('format')!r})")
        self.meta = meta
        self.dim = int(meta["dim"])
        frames = np.fromfile(os.path.join(folder, meta.get("frames", "frames.f32")), dtype="<f4")
        texts = np.fromfile(os.path.join(folder, meta.get("texts", "texts.f32")), dtype="<f4")
        self.frames = torch.from_numpy(frames.reshape(-1, self.dim).copy())
        self.texts = torch.from_numpy(texts.reshape(-1, self.dim).copy())
        self.videos = meta["videos"]
        self.captions_of = [[] for _ in self.videos]
        for i, c in enumerate(meta["captions"]):
            self.captions_of[c["video"]].append(i)
        if self.texts.shape[0] != len(meta["captions"]):
            raise SystemExit(f"{folder}: texts.f32 holds {self.texts.shape[0]} vectors for {len(meta['captions'])} captions")
        # Only videos with frames and at least one caption can be used.
        self.usable = [i for i, v in enumerate(self.videos) if v["frameCount"] > 0 and self.captions_of[i]]

    def frames_of(self, i: int) -> torch.Tensor:
        v = self.videos[i]
        return self.frames[v["frameOffset"] : v["frameOffset"] + v["frameCount"]]


def retrieval_metrics(sims: torch.Tensor) -> dict:
    """Text -> video metrics for a square similarity matrix whose diagonal holds the pairs."""
    n = sims.shape[0]
    diag = sims.diag().unsqueeze(1)
    ranks = (sims > diag).sum(dim=1).float() + 1  # 1-based; ties favour the right video
    return {
        "n": n,
        "R@1": round(100.0 * (ranks <= 1).float().mean().item(), 2),
        "R@5": round(100.0 * (ranks <= 5).float().mean().item(), 2),
        "R@10": round(100.0 * (ranks <= 10).float().mean().item(), 2),
        "MdR": float(ranks.median().item()),
        "MnR": round(ranks.mean().item(), 2),
    }


def evaluate(model, feats: Features, videos, chunk: int, batch: int = 256) -> dict:
    """One caption per video (its first), as MSR-VTT 1k-A."""
    model.eval()
    with torch.no_grad():
        texts = feats.texts[[feats.captions_of[i][0] for i in videos]]
        pooled = []
        for at in range(0, len(videos), batch):
            groups = [feats.frames_of(i) for i in videos[at : at + batch]]
            pooled.append(pool_groups(model, groups, chunk) if model is not None else mean_pool_groups(groups))
        return retrieval_metrics(texts @ torch.cat(pooled).T)


def evaluate_mean(feats: Features, videos) -> dict:
    texts = feats.texts[[feats.captions_of[i][0] for i in videos]]
    pooled = mean_pool_groups([feats.frames_of(i) for i in videos])
    return retrieval_metrics(texts @ pooled.T)


def export(model: SeqTransfPooler, out_dir: str, chunk: int, summary: dict) -> str:
    import onnx

    model.eval()
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "pooler.onnx")
    tmp = path + ".tmp"
    t = min(chunk, model.positions)
    embeds = F.normalize(torch.randn(2, t, model.dim), dim=-1)
    mask = torch.ones(2, t, dtype=torch.long)
    mask[1, t // 2 :] = 0
    with torch.no_grad(), warnings.catch_warnings():
        # torch 1.13's exporter warns about shape inference of constants it folds away
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (embeds, mask),
            tmp,
            input_names=["frame_embeds", "frame_mask"],
            output_names=["video_embeds"],
            dynamic_axes={"frame_embeds": {0: "batch", 1: "frames"}, "frame_mask": {0: "batch", 1: "frames"}, "video_embeds": {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
        )
    onnx.checker.check_model(onnx.load(tmp))
    os.replace(tmp, path)
    info = {
        "format": POOLER_FORMAT,
        "architecture": "clip4clip-seqTransf",
        "dim": model.dim,
        "layers": model.layers,
        "heads": model.heads,
        "positions": model.positions,
        # Longest run of frames the transformer sees at once; longer segments are chunked.
        "chunk_frames": t,
        "inputs": {"frame_embeds": "f32[B,T,D] L2-normalized frame vectors", "frame_mask": "i64[B,T] 1 frame / 0 padding"},
        "outputs": {"video_embeds": "f32[B,D] L2-normalized"},
        "opset": OPSET,
        "torch": torch.__version__,
        **summary,
    }
    sidecar = os.path.join(out_dir, "pooler.json")
    with open(sidecar + ".tmp", "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    os.replace(sidecar + ".tmp", sidecar)
    return path


def write_reference(model: SeqTransfPooler, file: str, chunk: int, seed: int) -> None:
    """Inputs and PyTorch outputs for the tests: whole padded batches as the graph sees them, and
    lists of frames of any length as the runtime pools them (chunked past `chunk`)."""
    g = torch.Generator().manual_seed(seed + 1)
    model.eval()
    d = model.dim
    t = min(chunk, model.positions)

    def frames(n):
        return F.normalize(torch.randn(n, d, generator=g), dim=-1)

    cases = []
    with torch.no_grad():
        for lengths in ([t, max(1, t - 3), 1], [min(5, t), min(5, t)]):
            longest = max(lengths)
            embeds = torch.zeros(len(lengths), longest, d)
            mask = torch.zeros(len(lengths), longest, dtype=torch.long)
            for i, n in enumerate(lengths):
                embeds[i, :n] = frames(n)
                # padding holds noise, not zeros: the mask alone must keep it out
                if n < longest:
                    embeds[i, n:] = frames(longest - n)
                mask[i, :n] = 1
            out = model(embeds, mask)
            cases.append({"kind": "graph", "batch": len(lengths), "frames": longest, "frame_embeds": embeds.flatten().tolist(), "frame_mask": mask.flatten().tolist(), "video_embeds": out.flatten().tolist()})
        lengths = [1, 2, t, t + 1, 2 * t + 3]
        groups = [frames(n) for n in lengths]
        out = pool_groups(model, groups, t)
        cases.append({"kind": "groups", "lengths": lengths, "frames": torch.cat(groups).flatten().tolist(), "video_embeds": out.flatten().tolist()})
    with open(file, "w", encoding="utf-8") as f:
        json.dump({"dim": d, "chunk_frames": t, "cases": cases}, f)


def train(args) -> dict:
    feats = Features(args.features)
    if args.val_features:
        val = Features(args.val_features)
        train_videos, val_videos = feats.usable, val.usable
    else:
        val = feats
        order = np.random.default_rng(args.seed).permutation(feats.usable)
        n_val = max(1, int(round(len(order) * args.val_fraction))) if args.val_fraction > 0 else 0
        val_videos, train_videos = sorted(order[:n_val].tolist()), sorted(order[n_val:].tolist())
    if val.dim != feats.dim:
        raise SystemExit(f"validation features are {val.dim}-d, training features {feats.dim}-d")
    if len(train_videos) < 2:
        raise SystemExit("need at least two captioned videos with frames to train")
    log(f"{len(train_videos)} training videos, {len(val_videos)} validation videos, {feats.dim}-d")

    model = SeqTransfPooler(feats.dim, layers=args.layers, heads=args.heads, positions=args.positions)
    chunk = min(args.chunk_frames, args.positions)
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "position" in n]
    decay = [p for n, p in model.named_parameters() if not (p.ndim < 2 or "position" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    steps_per_epoch = math.ceil(len(train_videos) / args.batch_size)
    total = max(1, steps_per_epoch * args.epochs)
    warmup = int(total * args.warmup)

    def lr_at(step):  # linear warm-up, then cosine to zero (CLIP4Clip's schedule)
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    rng = np.random.default_rng(args.seed)
    scale = float(args.logit_scale)
    summary = {"train_videos": len(train_videos), "val_videos": len(val_videos)}
    if val_videos:
        summary["val_mean_pooling"] = evaluate_mean(val, val_videos)
        summary["val_untrained"] = evaluate(model, val, val_videos, chunk)
        log(f"mean pooling {summary['val_mean_pooling']}")
    best = None
    started = time.time()
    step = 0
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(train_videos)
        losses = []
        for at in range(0, len(order), args.batch_size):
            batch = order[at : at + args.batch_size]
            if len(batch) < 2:
                continue
            groups, caps = [], []
            for i in batch:
                f = feats.frames_of(int(i))
                if f.shape[0] > args.max_train_frames:  # a random window keeps long videos cheap
                    s = int(rng.integers(0, f.shape[0] - args.max_train_frames + 1))
                    f = f[s : s + args.max_train_frames]
                groups.append(f)
                c = feats.captions_of[int(i)]
                caps.append(c[int(rng.integers(0, len(c)))])
            video = pool_groups(model, groups, chunk)
            text = feats.texts[caps]
            logits = scale * text @ video.T
            target = torch.arange(len(batch))
            loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            losses.append(loss.item())
        msg = f"epoch {epoch + 1}/{args.epochs} loss {np.mean(losses):.4f}"
        if val_videos:
            m = evaluate(model, val, val_videos, chunk)
            msg += f" val R@1 {m['R@1']} R@5 {m['R@5']} MdR {m['MdR']}"
            if best is None or m["R@1"] > best[0]["R@1"] or (m["R@1"] == best[0]["R@1"] and m["MnR"] < best[0]["MnR"]):
                best = (m, epoch + 1, {k: v.clone() for k, v in model.state_dict().items()})
        log(msg)
    if best is not None:
        model.load_state_dict(best[2])
        summary["val_transformer"] = best[0]
        summary["best_epoch"] = best[1]
    summary.update({"epochs": args.epochs, "steps": step, "seconds": round(time.time() - started, 1), "lr": args.lr, "batch_size": args.batch_size, "logit_scale": scale})
    return model, chunk, summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--features", help="features folder from `vidsearch export-features` (training set)")
    p.add_argument("--val-features", help="features folder of a held-out set (e.g. MSR-VTT 1k-A); default: --val-fraction of --features")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--out", required=True, help="folder for pooler.onnx and pooler.json (e.g. the model folder)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--weight-decay", type=float, default=0.2)
    p.add_argument("--warmup", type=float, default=0.1, help="fraction of steps spent warming up")
    p.add_argument("--logit-scale", type=float, default=100.0, help="CLIP's (fixed) logit scale")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=0, help="default: width / 64")
    p.add_argument("--positions", type=int, default=64, help="rows of the frame position table")
    p.add_argument("--chunk-frames", type=int, default=12, help="longest run of frames pooled at once (CLIP4Clip: 12)")
    p.add_argument("--max-train-frames", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--init-only", action="store_true", help="export an untrained pooler (needs --dim)")
    p.add_argument("--dim", type=int, help="vector size, with --init-only")
    p.add_argument("--reference", help="also write test inputs and PyTorch outputs to this JSON file")
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.init_only:
        if not args.dim:
            p.error("--init-only needs --dim")
        model = SeqTransfPooler(args.dim, layers=args.layers, heads=args.heads or default_heads(args.dim), positions=args.positions)
        # An untrained pooler is mean pooling; perturb it so the reference exercises every weight.
        with torch.no_grad():
            for prm in model.parameters():
                prm.add_(torch.randn_like(prm) * 0.05)
        chunk, summary = min(args.chunk_frames, args.positions), {"trained": False}
    else:
        if not args.features:
            p.error("--features is required (or --init-only)")
        model, chunk, summary = train(args)
        summary["trained"] = True
    path = export(model, args.out, chunk, summary)
    if args.reference:
        write_reference(model, args.reference, chunk, args.seed)
    result = {"pooler": path, **summary}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
