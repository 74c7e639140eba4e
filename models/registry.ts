// Models `vidsearch models pull` knows how to fetch. Each entry pins a revision (a commit), so a
// pull is reproducible and the vectors of an index stay comparable with the model that made them.
import type { ModelVariant } from '../indexer/services/config';

export interface ModelFile {
  path: string;
  /** absent for files every variant needs (configs, tokenizer) */
  variant?: ModelVariant;
  /** when absent, the downloader takes the hash the server announces (Hugging Face's LFS sha256) */
  sha256?: string;
}

export interface ModelSpec {
  name: string;
  repo: string;
  revision: string;
  description: string;
  files: ModelFile[];
}

/** The file layout of the model folder contract (DESIGN.md, "Model folder"). */
export const CLIP_LAYOUT: ModelFile[] = [
  { path: 'config.json' },
  { path: 'preprocessor_config.json' },
  { path: 'tokenizer.json' },
  { path: 'tokenizer_config.json' },
  { path: 'onnx/text_model.onnx', variant: 'fp32' },
  { path: 'onnx/vision_model.onnx', variant: 'fp32' },
  { path: 'onnx/text_model_quantized.onnx', variant: 'quantized' },
  { path: 'onnx/vision_model_quantized.onnx', variant: 'quantized' },
  { path: 'onnx/text_model_fp16.onnx', variant: 'fp16' },
  { path: 'onnx/vision_model_fp16.onnx', variant: 'fp16' },
];

export const REGISTRY: Record<string, ModelSpec> = {
  'clip-vit-base-patch32': {
    name: 'clip-vit-base-patch32',
    repo: 'Xenova/clip-vit-base-patch32',
    revision: '4c1807b705b1d015fb032789cc4d221b23025a6f',
    description: 'OpenAI CLIP ViT-B/32 (ONNX export by Xenova): 512-d vectors, 224×224 input',
    // No sha256 here: they could not be checked offline, and an invented one would fail every pull.
    files: CLIP_LAYOUT,
  },
};
