// What every CLIP model folder the project writes shares with OpenAI's CLIP (the test model here,
// the benchmark's ViT-B/32 stand-in in bench/): normalization, preprocessing and tokenizer files.

export const CLIP_IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_IMAGE_STD = [0.26862954, 0.26130258, 0.27577711];

/** CLIP's BPE tokenizer (tokenizer.json), copied into the project. */
export const CLIP_TOKENIZER_JSON = new URL('./clip-tokenizer.json', import.meta.url);

export const CLIP_TOKENIZER_CONFIG = {
  model_max_length: 77,
  bos_token: '<|startoftext|>',
  eos_token: '<|endoftext|>',
  pad_token: '<|endoftext|>',
  unk_token: '<|endoftext|>',
  do_lower_case: true,
  tokenizer_class: 'CLIPTokenizer',
};

/** preprocessor_config.json: resize the shortest side (bicubic), centre crop, normalize. */
export function clipPreprocessorConfig(imageSize: number) {
  return {
    crop_size: { height: imageSize, width: imageSize },
    do_center_crop: true,
    do_normalize: true,
    do_resize: true,
    image_mean: CLIP_IMAGE_MEAN,
    image_std: CLIP_IMAGE_STD,
    resample: 3,
    size: { shortest_edge: imageSize },
  };
}
