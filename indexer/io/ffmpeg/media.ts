// The ffmpeg boundary: every call to ffmpeg/ffprobe goes through here and comes back as domain
// types (VideoProbe, RawFrame) or a MediaError that says what is wrong with the file.
// One module per role: tools.ts (finding and running the binaries), probe.ts, keyframes.ts and
// decode.ts (frames, images, thumbnails); this file is what the rest of the engine imports.
export { resolveTools, toolReport, toolReportLines, type ToolReport, type Tools } from './tools';
export { probe, type MediaInfo, type StreamInfo } from './probe';
export { sampledFramesAreKeyframes } from './keyframes';
export { MAX_IMAGE_PIXELS, clipGeometry, decodeImage, frameFilter, frames, thumbnail, type FrameOptions, type Geometry } from './decode';
