// The eflip web app: pick a served model (or drop an .onnx), choose a video, and read it in the
// browser — frames from <video> (./frames.js), eflip's own pre-processing and LipReader
// (eflip/infer, browser build on onnxruntime-web: WebGPU on a hardware adapter, else wasm), top-k bars for a short
// clip and the streaming timeline for a long one. Nothing is uploaded.
import {
  hardwareWebGpu,
  loadLipReader,
  prepareFrames,
  streamClip,
  timelineSegments,
  inputPlanes,
  MODEL_FPS,
} from 'eflip/infer';
import { openVideo, videoFrames, NotAVideoError } from './frames.js';
import { CameraReader } from './camera.js';
import { roisOfVideo } from './face_upload.js';
import { drawOverlay } from './overlay.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const SHORT = 50; // frames: up to 2 s reads as one clip (like `eflip predict`), longer as a timeline (`eflip stream`)
const MAX_SECONDS = 60;
const state = { reader: null, readerKey: '', models: [], dropped: null, busy: false };
/** what the page read last, for tests and programs: window.eflip */
window.eflip = { ready: false, result: null, error: null };

function message(text, info = false) {
  $('message').textContent = text;
  $('message').className = info ? 'info' : '';
}

async function listModels() {
  const sel = $('model');
  try {
    const r = await fetch('/api/models');
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    state.models = (await r.json()).models;
  } catch (e) {
    state.models = [];
    message(`Could not list the server's models (${e.message}); drop an .onnx file instead.`);
  }
  sel.innerHTML = '';
  for (const m of state.models) sel.add(new Option(`${m.name} (${m.classes} words)`, m.id));
  if (!state.models.length)
    sel.add(new Option('(no model: start eflip serve --model PATH, or drop an .onnx)', ''));
}

/** ?device=wasm|webgpu, else WebGPU where the browser has a hardware adapter: a software
 *  fallback (SwiftShader) runs the model several times slower than wasm. */
async function wantedDevice() {
  const d = params.get('device');
  if (d === 'wasm' || d === 'webgpu') return { device: d, note: '' };
  if (!('gpu' in navigator))
    return { device: 'wasm', note: ' (this browser has no WebGPU, so wasm runs instead)' };
  return (await hardwareWebGpu())
    ? { device: 'webgpu', note: '' }
    : { device: 'wasm', note: ' (WebGPU has no hardware adapter here, so wasm runs instead)' };
}

/** onnxruntime-web's wasm threads when the page is cross-origin isolated (`eflip serve` sends
 *  COOP/COEP): half the cores, up to 4 — onnxruntime-web's own default, and on this 2-core
 *  machine under load 1 thread beat 2 in every interleaved A/B (docs/webapp.md) — else 1;
 *  `?threads=N` asks for N (the bench's A/B). */
function wasmThreads() {
  const cores = navigator.hardwareConcurrency || 1;
  const most = self.crossOriginIsolated ? Math.min(4, Math.ceil(cores / 2)) : 1;
  const asked = Number(params.get('threads'));
  return Number.isInteger(asked) && asked >= 1
    ? Math.min(asked, self.crossOriginIsolated ? 16 : 1)
    : most;
}

/** Front-end lanes for whole clips on wasm (src/infer/web_lanes.ts): one Web Worker per core
 *  (webPlatform caps them at MAX_LANES), one wasm thread each, no cross-origin isolation needed
 *  (T int8, 2 cores: ~95 against ~143 ms/clip on one thread; docs/webapp.md); `?lanes=N` asks for
 *  N, 0 or 1 for none. */
function laneCount() {
  const asked = params.get('lanes');
  if (asked !== null) return Math.max(0, Number(asked) | 0);
  const cores = navigator.hardwareConcurrency || 1;
  return cores >= 2 ? cores : 0;
}

async function openReader() {
  const key = state.dropped ? `file:${state.dropped.name}` : `server:${$('model').value}`;
  if (state.reader && state.readerKey === key) return state.reader;
  if (state.reader) await state.reader.dispose();
  state.reader = null;
  let source;
  if (state.dropped) source = state.dropped.bytes;
  else {
    const m = state.models.find((x) => x.id === $('model').value);
    if (!m)
      throw new Error(
        'No model: start `eflip serve --model PATH`, or drop an exported .onnx file here.',
      );
    source = m.url;
  }
  const threads = wasmThreads();
  let { device, note } = await wantedDevice();
  const lanes = { lanes: laneCount(), laneWorkerUrl: '/lane_worker.js' };
  try {
    state.reader = await loadLipReader(source, { wasmPaths: '/ort/', device, threads, ...lanes });
  } catch (e) {
    if (device !== 'webgpu') throw e;
    note = ' (WebGPU is not usable here, so wasm runs instead)';
    device = 'wasm';
    state.reader = await loadLipReader(source, { wasmPaths: '/ort/', device, threads, ...lanes });
  }
  // what the camera's model worker opens: the same model, device and threads
  state.model = { source, options: { wasmPaths: '/ort/', device, threads } };
  state.readerKey = key;
  const n = state.reader.frontendLanes;
  $('runtime').textContent =
    `Running on ${state.reader.device}${state.reader.device === 'wasm' ? `, ${threads} thread${threads > 1 ? 's' : ''}` : ''}` +
    `${n ? `, whole clips on ${n} lanes` : ''}${note}.`;
  return state.reader;
}

function showTop(top) {
  const ol = $('topk');
  ol.innerHTML = '';
  for (const t of top) {
    const li = document.createElement('li');
    const pct = (100 * t.probability).toFixed(1);
    li.innerHTML =
      '<span class="word"></span><span class="bar" aria-hidden="true"><span></span></span><span class="p"></span>';
    li.querySelector('.word').textContent = t.label;
    li.querySelector('.bar span').style.width = `${pct}%`;
    li.querySelector('.p').textContent = `${pct}%`;
    li.setAttribute('aria-label', `${t.label}: ${pct} percent`);
    ol.append(li);
  }
}

function showTimeline(segments) {
  $('timeline-box').hidden = !segments.length;
  const ol = $('timeline');
  ol.innerHTML = '';
  for (const s of segments) {
    const li = document.createElement('li');
    li.textContent = `${s.start.toFixed(2)}–${s.end.toFixed(2)} s ${s.word} ${(100 * s.probability).toFixed(0)}%`;
    ol.append(li);
  }
}

async function readVideo(file) {
  if (state.busy) return message('Still reading the last video; wait for it to finish.');
  state.busy = true;
  window.eflip.result = null;
  window.eflip.error = null;
  showTop([]);
  showTimeline([]);
  $('timing').textContent = '';
  const video = $('video');
  try {
    message('');
    if (
      file.type &&
      !file.type.startsWith('video/') &&
      !/\.(mp4|mov|m4v|webm|mkv|avi|ogv)$/i.test(file.name)
    )
      throw new NotAVideoError(
        `${file.name} is not a video (type ${file.type}); choose an .mp4, .webm or .mov file.`,
      );
    const reader = await openReader();
    const t0 = performance.now();
    await openVideo(video, file);
    video.hidden = false;
    if (video.duration > MAX_SECONDS)
      throw new Error(
        `${file.name} is ${video.duration.toFixed(1)} s long; the page reads up to ${MAX_SECONDS} s (use \`eflip stream\` for longer videos).`,
      );
    const rgb = inputPlanes(reader.channels).image === 3;
    let data,
      T,
      how = '',
      source = '',
      annotation = null;
    $('upload-overlay').hidden = true;
    video.onseeked = video.ontimeupdate = null;
    const C = reader.channels,
      size = reader.preprocessing.size,
      per = size * size;
    if ($('face').checked) {
      // arbitrary footage: the mouth ROI from face landmarks (the same code as `eflip predict --face`)
      const { rois, info, frameSource } = await roisOfVideo(
        video,
        file.name,
        !rgb,
        (pass, i, n) => {
          if (i % 5 === 0) $('progress').textContent = `${pass}: frame ${i + 1} of ${n}…`;
        },
      );
      const c = prepareFrames(rois, reader.preprocessing, MODEL_FPS, C);
      data = c.data;
      T = c.frames;
      how = 'face ROI';
      source = frameSource;
      annotation = info;
    } else {
      const pieces = [];
      for await (const f of videoFrames(video, { rgb })) {
        // the shared pre-processing, one frame at a time (crop and normalise are per frame)
        const c = prepareFrames(
          { data: f.data, frames: 1, height: f.height, width: f.width, channels: f.channels },
          reader.preprocessing,
          MODEL_FPS,
          C,
        );
        pieces.push(c.data);
        how = { luma: 'decoder luma plane', 'decoder yuv': 'decoder planes' }[f.how] ?? 'canvas';
        if (f.index % 5 === 0)
          $('progress').textContent = `Decoding frame ${f.index + 1} of ${f.total}…`;
      }
      if (!pieces.length) throw new Error(`${file.name} has no frames.`);
      T = pieces.length;
      data = new Float32Array(C * T * per);
      pieces.forEach((p, t) => {
        for (let c = 0; c < C; c++) data.set(p.subarray(c * per, (c + 1) * per), (c * T + t) * per);
      });
    }
    const clip = { data, frames: T, channels: C, size, fps: MODEL_FPS };
    const t1 = performance.now();
    $('progress').textContent = `Reading ${T} frames…`;
    const lp = await reader.predictClip(clip);
    const top = reader.topK(lp, 5).map((e) => ({ label: e.label, probability: e.probability }));
    const t2 = performance.now();
    showTop(top);
    if (annotation)
      annotate(video, annotation, `${top[0].label} ${(100 * top[0].probability).toFixed(0)}%`);
    let segments = [];
    if (T > SHORT) {
      try {
        const timeline = await streamClip(reader, clip, { window: 29 });
        segments = timelineSegments(timeline, MODEL_FPS, 0.2);
        showTimeline(segments);
      } catch (e) {
        message(
          `No timeline: ${e.message} (a dropped .onnx has no streaming halves; export with \`eflip export --features\`).`,
          true,
        );
      }
    }
    const t3 = performance.now();
    $('progress').textContent =
      `${file.name}: ${T} frames (${(T / MODEL_FPS).toFixed(2)} s), top word ${top[0].label}.`;
    $('timing').textContent =
      `decode + preprocess ${(t1 - t0).toFixed(0)} ms (${how}), model ${(t2 - t1).toFixed(0)} ms${segments.length ? `, timeline ${(t3 - t2).toFixed(0)} ms` : ''} on ${reader.device}.`;
    window.eflip.result = {
      file: file.name,
      frames: T,
      device: reader.device,
      decode: how,
      ...(source ? { frameSource: source } : {}),
      // "find the face": the tracked, smoothed landmarks the ROI was cut from (T×68 [x, y])
      ...(annotation ? { landmarks: annotation.landmarks } : {}),
      top,
      logProbs: Array.from(lp),
      segments,
      ms: { decode: t1 - t0, model: t2 - t1, timeline: t3 - t2 },
    };
  } catch (e) {
    const text = e instanceof NotAVideoError ? e.message : e.message || String(e);
    message(text);
    $('progress').textContent = '';
    window.eflip.error = text;
  } finally {
    state.busy = false;
  }
}

/** Annotated playback: the face box, landmarks, ROI and the word on the uploaded video. */
function annotate(video, info, label) {
  const canvas = $('upload-overlay');
  const draw = () => {
    const t = Math.min(info.frames - 1, Math.max(0, Math.floor(video.currentTime * MODEL_FPS)));
    const b = info.boxes[t];
    drawOverlay(canvas, video.videoWidth, video.videoHeight, {
      box: b && { x: b[0], y: b[1], width: b[2], height: b[3] },
      detected: info.sources[t] === 'detect',
      landmarks: info.landmarks[t],
      label,
    });
    window.eflip.annotatedFrame = t;
  };
  canvas.hidden = false;
  video.ontimeupdate = video.onseeked = draw;
  video.currentTime = 0.5 / MODEL_FPS;
  draw();
}

async function takeFile(file) {
  if (!file) return;
  if (/\.onnx$/i.test(file.name)) {
    state.dropped = { name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) };
    try {
      await openReader();
      message(`Using the dropped model ${file.name} (${state.reader.labels.length} words).`, true);
    } catch (e) {
      state.dropped = null;
      message(`${file.name}: ${e.message}`);
    }
    return;
  }
  return readVideo(file);
}

let camera = null;
async function startCamera() {
  $('cam-start').disabled = true;
  message('');
  window.eflip.camera = null;
  try {
    const reader = await openReader();
    camera = new CameraReader({
      video: $('cam'),
      overlay: $('overlay'),
      reader,
      model: state.model,
      useWorker: params.get('worker') !== '0',
      // `?faceworker=0`: face detections on the page, not in web/detector_worker.js (the A/B)
      faceWorker: params.get('faceworker') !== '0',
      // `?every=N`: a full face detection every N frames (the bench's A/B; default DETECT_EVERY)
      ...(/^[1-9]\d*$/.test(params.get('every') ?? '')
        ? { every: Number(params.get('every')) }
        : {}),
      // `?timescale=x`: seconds of speech per second of camera time (tests: a fake camera
      // playing a 25 frames/s clip slower than the loaded page reads it)
      ...(Number(params.get('timescale')) > 0
        ? { timeScale: Number(params.get('timescale')) }
        : {}),
      onUpdate: (s) => {
        window.eflip.camera = {
          ...s,
          top: s.top.slice(),
          words: s.words.slice(),
          box: s.box && { ...s.box },
          totals: { ...s.totals, calls: { ...s.totals.calls } },
          slots: s.slots && { ...s.slots },
        };
        $('cam-stats').textContent =
          `${s.fps.toFixed(1)} frames/s · face ${s.msTrack.toFixed(0)} ms after the frame · model ${s.msModel.toFixed(0)} ms per frame (face models on tfjs-${s.backend}, detector in ${s.detectorIn}, model in ${s.modelIn}) · ${s.box ? 'face found' : 'no face in view'}`;
        $('cam-words').textContent = s.top.length
          ? `${s.top[0].label} ${(100 * s.top[0].probability).toFixed(0)}%  ·  ${s.words.slice(-8).join(' ')}`
          : '';
        if (s.error) {
          message(`Camera stopped: ${s.error}`);
          stopCamera();
        }
      },
    });
    $('cam-box').hidden = false;
    await camera.start();
    $('cam-stop').disabled = false;
    $('cam-stop').focus();
  } catch (e) {
    $('cam-box').hidden = true;
    message(e.message);
    window.eflip.camera = { error: e.message };
    $('cam-start').disabled = false;
  }
}

async function stopCamera() {
  $('cam-stop').disabled = true;
  await camera?.stop();
  camera = null;
  $('cam-start').disabled = false;
}

function wire() {
  $('cam-start').addEventListener('click', startCamera);
  $('cam-stop').addEventListener('click', stopCamera);
  const drop = $('drop');
  $('file').addEventListener('change', (e) => takeFile(e.target.files[0]));
  $('model').addEventListener('change', () => {
    state.dropped = null;
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    takeFile(e.dataTransfer.files[0]);
  });
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      $('file').click();
    }
  });
}

/** ms per clip of the chosen model (or served model `model`, by id) on a 29-frame clip (for `eflip bench webapp`): the median of
 *  `runs` timed runs after a warm-up of at least 3 runs and `warmupMs`; the input is noise (the time does not depend on it). */
// tests: the webcam's face detector worker fails mid-run (the page must go on detecting)
window.eflip.failFaceWorker = () => camera?.faceHelper?.terminate();

window.eflip.timeModel = async (runs = 10, model = null, warmupMs = 3000) => {
  if (model !== null) {
    // one of the server's models by id (the bench times each model on its own page)
    if (!state.models.some((m) => m.id === model)) throw new Error(`no served model ${model}`);
    $('model').value = model;
    state.dropped = null;
  }
  const reader = await openReader();
  const S = reader.preprocessing.size,
    T = 29,
    C = reader.channels;
  const data = new Float32Array(C * T * S * S).map(() => Math.random() - 0.5);
  const clip = { data, frames: T, channels: C, size: S, fps: MODEL_FPS };
  // warm-up: Chromium runs onnxruntime-web's wasm on its baseline compiler until the hot
  // functions tier up, which took seconds here (a median of 31–35 ms over 10 clips after one
  // warm-up clip, 13–17 once tiered up, demo model): at least 3 clips and 3 s before timing
  const w0 = performance.now();
  for (let i = 0; i < 3 || performance.now() - w0 < warmupMs; i++) await reader.predictClip(clip);
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await reader.predictClip(clip);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return {
    msPerClip: ms[ms.length >> 1],
    min: ms[0],
    runs,
    device: reader.device,
    threads: wasmThreads(),
    lanes: reader.frontendLanes,
    isolated: self.crossOriginIsolated,
    runtime: $('runtime').textContent,
  };
};

wire();
listModels().then(() => {
  window.eflip.ready = true;
});
