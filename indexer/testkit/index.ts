// Test fixtures, never imported by the engine at run time: a small generated CLIP-shaped ONNX model
// with its tokenizer (build.ts, clip-files.ts), videos of known content made with ffmpeg
// (samples.ts), and a library of colour "moments" for the re-ranking tests (moments.ts). Tests, the
// benchmark and the demo/bench scripts use it; test/layout.test.ts checks nothing else does.
export { TEST_COLORS, TEST_DIM, buildTestModel } from './build';
export { makeColorVideo, type ColorPart } from './samples';
