// Video frames in the browser, the way eflip's frame reader (ffmpeg) gives them: resampled to
// 25 fps (frame i is the source frame shown at (i + ½)/25 s), grey as ffmpeg's yuv→gray gives it
// (the decoder's luma plane, limited range expanded: round((Y − 16)·255/219)), and RGB as
// ffmpeg's yuv420p→rgb24 gives it (the decoder's planes through swscale's fixed-point BT.601
// arithmetic, bit-exact), else from a canvas (the browser's own yuv→rgb, a few levels off).
// Returns uint8 frames one at a time for the shared pre-processing and the face pipeline.
const FPS = 25;
const LUMA = new Uint8Array(256).map((_, y) =>
  Math.min(255, Math.max(0, Math.floor(((y - 16) * 255) / 219 + 0.5))),
);
const YUV = new Set(['I420', 'I420A', 'I422', 'I444', 'NV12', 'I420P10', 'I422P10', 'I444P10']);

export class NotAVideoError extends Error {}

// swscale's unscaled yuv420p→rgb24 (libswscale/x86 yuv2rgb, what ffmpeg 5.1 runs on x86-64 for
// limited-range BT.601 input): 16-bit fixed point, values <<3, pmulhw (a·b >> 16, floored) by
// the coefficients it derives from its BT.601 table (Y 9539, V→R 13075, U→B 16525, U→G −3209,
// V→G −6660, Y offset 16<<3), chroma shared by each 2×2 block (no interpolation), saturated.
const mulhi = (a, b) => Math.floor((a * b) / 65536);
const sat16 = (x) => (x < -32768 ? -32768 : x > 32767 ? 32767 : x);
const sat8 = (x) => (x < 0 ? 0 : x > 255 ? 255 : x);
const SWS_Y = new Int16Array(256).map((_, y) => mulhi(sat16((y << 3) - 128), 9539));
const SWS_VR = new Int16Array(256).map((_, v) => mulhi((v << 3) - 1024, 13075));
const SWS_UB = new Int16Array(256).map((_, u) => mulhi((u << 3) - 1024, 16525));
const SWS_UG = new Int16Array(256).map((_, u) => mulhi((u << 3) - 1024, -3209));
const SWS_VG = new Int16Array(256).map((_, v) => mulhi((v << 3) - 1024, -6660));

/** I420 planes → RGB24 exactly as ffmpeg's `format=rgb24` (swscale) makes it. */
export function i420ToRgb(buf, layout, width, height) {
  const [py, pu, pv] = layout;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const yRow = py.offset + y * py.stride,
      uRow = pu.offset + (y >> 1) * pu.stride,
      vRow = pv.offset + (y >> 1) * pv.stride;
    for (let x = 0, o = y * width * 3; x < width; x++, o += 3) {
      const Y = SWS_Y[buf[yRow + x]],
        U = buf[uRow + (x >> 1)],
        V = buf[vRow + (x >> 1)];
      out[o] = sat8(Y + SWS_VR[V]);
      out[o + 1] = sat8(Y + sat16(SWS_UG[U] + SWS_VG[V]));
      out[o + 2] = sat8(Y + SWS_UB[U]);
    }
  }
  return out;
}

/** Load a video file into a <video> element; rejects with NotAVideoError when the browser cannot decode it. */
export function openVideo(video, file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const done = (ok) => {
      video.onloadeddata = video.onerror = null;
      clearTimeout(timer);
      ok
        ? resolve(url)
        : (URL.revokeObjectURL(url),
          reject(new NotAVideoError(`${file.name} is not a video this browser can decode`)));
    };
    const timer = setTimeout(() => done(false), 15000);
    video.onloadeddata = () => done(video.videoWidth > 0 && Number.isFinite(video.duration));
    video.onerror = () => done(false);
    video.src = url;
  });
}

/** Seek and wait until the frame at `t` is presented: 'seeked', then the video-frame callback
 *  (a frame grabbed right after 'seeked' can still be the previous one on a busy machine). */
function seek(video, t) {
  return new Promise((resolve, reject) => {
    let seeked = false,
      presented = !('requestVideoFrameCallback' in video),
      grace = null;
    const finish = () => {
      clearTimeout(timer);
      clearTimeout(grace);
      resolve();
    };
    const timer = setTimeout(
      () => (seeked ? finish() : reject(new Error(`seeking to ${t.toFixed(3)} s timed out`))),
      10000,
    );
    if (!presented)
      video.requestVideoFrameCallback(() => {
        presented = true;
        if (seeked) finish();
      });
    video.onseeked = () => {
      video.onseeked = null;
      seeked = true;
      if (presented) finish();
      else grace = setTimeout(finish, 1000); // the same frame as before: no new presentation comes
    };
    video.currentTime = t;
  });
}

/** The frame on show (a file's or a camera's) from the decoder's own planes, as ffmpeg gives
 *  it: grey ('gray': the Y plane, range expanded) or RGB ('rgb24', 4:2:0 limited-range input
 *  only); null when the frame is not in a format this reproduces exactly. */
export async function decoderFrame(video, rgb) {
  if (typeof VideoFrame === 'undefined') return null;
  let f;
  try {
    f = new VideoFrame(video, { timestamp: Math.round(video.currentTime * 1e6) });
  } catch {
    return null;
  }
  try {
    if (!YUV.has(f.format) || f.format.endsWith('P10')) return null;
    if (rgb && (f.format !== 'I420' || f.colorSpace?.fullRange)) return null;
    const { width, height } = f.visibleRect;
    const buf = new Uint8Array(f.allocationSize());
    const layout = await f.copyTo(buf);
    if (rgb) return { data: i420ToRgb(buf, layout, width, height), width, height };
    const { offset, stride } = layout[0];
    const out = new Uint8Array(width * height);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) out[y * width + x] = LUMA[buf[offset + y * stride + x]];
    return { data: out, width, height };
  } finally {
    f.close();
  }
}

/** The frame on show through a canvas (the browser's own yuv→rgb; BT.601 luma for grey). The
 *  canvas is resized only when the video's size changed: setting its size reallocates it. */
export function canvasFrame(video, canvas, rgb) {
  const w = video.videoWidth,
    h = video.videoHeight;
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(video, 0, 0, w, h);
  const px = new Uint32Array(ctx.getImageData(0, 0, w, h).data.buffer); // RGBA, little-endian
  const out = new Uint8Array(w * h * (rgb ? 3 : 1));
  for (let i = 0, j = 0; i < px.length; i++, j += 3) {
    const v = px[i],
      r = v & 255,
      g = (v >> 8) & 255,
      b = (v >> 16) & 255;
    if (rgb) {
      out[j] = r;
      out[j + 1] = g;
      out[j + 2] = b;
    } else out[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  return { data: out, width: w, height: h };
}

/** Number of 25 fps frames ffmpeg's fps filter makes of a video of this duration. */
export function frameCount(duration) {
  return Math.max(0, Math.round(duration * FPS));
}

/** uint8 frames ({data, width, height, channels}) at 25 fps; `how` says which path decoded them. */
export async function* videoFrames(video, { rgb = false, maxFrames = Infinity } = {}) {
  const n = Math.min(frameCount(video.duration), maxFrames);
  const canvas = document.createElement('canvas');
  video.pause();
  for (let i = 0; i < n; i++) {
    await seek(video, (i + 0.5) / FPS);
    const exact = await decoderFrame(video, rgb);
    const f = exact ?? canvasFrame(video, canvas, rgb);
    const how = exact ? (rgb ? 'decoder yuv' : 'luma') : 'canvas';
    yield { ...f, channels: rgb ? 3 : 1, how, index: i, total: n };
  }
}
