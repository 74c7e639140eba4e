// The test kit's entry for scripts/demo.ts and scripts/bench-http.ts (see README.md).
export { TEST_COLORS, TEST_DIM, buildTestModel } from './build';
export { makeColorVideo, type ColorPart } from './samples';
