// `eflip serve`: the web app (lipreading in the browser: the video never leaves the machine),
// the models it was given, and a small HTTP API (GET /api/models, POST /api/predict).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseOrHelp, UsageError, defineCommand } from '../args.js';
import { EflipServer } from '../../serve/server.js';
import { DEMO_MODEL, ROI_DEMO_MODEL } from '../../demo_assets.js';

/** Without --model: the bundled demo models, the ROI one first (the page's default pick, the one
 *  that reads the webcam's face-tracked mouth ROI), then the fixed-window one (mouth-centred clips). */
export const DEFAULT_MODELS = [
  { file: ROI_DEMO_MODEL, name: 'demo-roi' },
  { file: DEMO_MODEL, name: 'demo' },
];

export const def = defineCommand({
  name: 'serve',
  usage: 'serve [--model PATH ...] [--host 127.0.0.1] [--port 8080]',
  description: [
    'Serve the eflip web app and the given models on HTTP. The page lipreads uploaded videos in the',
    'browser (onnxruntime-web: WebGPU or wasm); POST /api/predict runs `eflip predict` on the server',
    'for programs (the video as the body, or as the one file of a multipart/form-data upload).',
    '--model takes .onnx files or checkpoints (.safetensors/.ckpt: exported to ONNX once,',
    'kept in memory); repeat it to offer several. Without --model it offers the bundled demo models:',
    'demo-roi (face-tracked mouth ROI: the webcam and "find the face" uploads) and demo (mouth-centred clips).',
    'Binds to localhost unless --host says otherwise.',
  ].join('\n'),
  options: {
    model: {
      type: 'list',
      alias: 'm',
      commas: false,
      help: 'a model to offer (.onnx or checkpoint); repeat for several (default: the demo models)',
    },
    host: {
      type: 'string',
      default: '127.0.0.1',
      help: 'address to bind (0.0.0.0 exposes it to the network)',
    },
    port: { type: 'int', default: 8080, min: 0, max: 65535, help: 'TCP port (0: any free port)' },
    'max-upload-mb': {
      type: 'number',
      default: 50,
      min: 0.001,
      max: 4096,
      help: 'largest POST /api/predict body, MB',
    },
    'max-seconds': {
      type: 'number',
      default: 60,
      min: 0.04,
      max: 120,
      help: 'longest video POST /api/predict reads',
    },
    'request-timeout': {
      type: 'number',
      default: 30,
      min: 0.1,
      max: 3600,
      help: 'seconds a client has to send a whole request (408 after)',
    },
    queue: {
      type: 'int',
      default: 16,
      min: 0,
      max: 1024,
      help: 'predictions uploading or waiting behind the running one (503 after)',
    },
    'job-timeout': {
      type: 'number',
      default: 60,
      min: 0.1,
      max: 3600,
      help: 'seconds one prediction may run (stopped and answered 504 after)',
    },
    threads: {
      type: 'threads',
      help: 'threads of server-side prediction (onnxruntime on the CPU with 2+: front-end lanes)',
    },
  },
  examples: [
    'eflip serve',
    'eflip serve --model lipreader.onnx',
    'eflip serve --model a.onnx --model b.safetensors --port 9000',
  ],
});

/** The built web app: dist/web next to dist/src (bundled by scripts/build-web.mjs during setup). */
export const WEB_ROOT = fileURLToPath(new URL('../../../web/', import.meta.url));

export default async function main(argv: string[]): Promise<number> {
  const p = parseOrHelp(def, argv);
  if (!p) return 0;
  const o = p.opts;
  if (p.positionals.length)
    throw new UsageError(
      `unexpected argument '${p.positionals[0]}'; give models with --model PATH`,
    );
  // an empty --host ("$HOST" unset) would bind every interface
  if (!o.host.trim())
    throw new UsageError(
      '--host is empty; give an address (127.0.0.1 by default, 0.0.0.0 for every interface)',
    );
  if (!existsSync(WEB_ROOT + 'index.html'))
    throw new UsageError(
      `the web app is not built (${WEB_ROOT}index.html missing): run \`npm run build\``,
    );
  const models = o.model ?? DEFAULT_MODELS.filter((m) => existsSync(m.file));
  const server = await EflipServer.create({
    models,
    webRoot: WEB_ROOT,
    threads: o.threads,
    limits: {
      maxBody: Math.round(o['max-upload-mb'] * 1024 * 1024),
      maxSeconds: o['max-seconds'],
      requestTimeoutMs: Math.round(o['request-timeout'] * 1000),
      maxQueue: o.queue,
      jobTimeoutMs: Math.round(o['job-timeout'] * 1000),
    },
  });
  let port: number;
  try {
    port = await server.listen(o.port, o.host);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'EADDRINUSE'
        ? 'is in use; pick another with --port'
        : err.code === 'EACCES'
          ? 'needs privileges; use a port above 1023'
          : err.code === 'EADDRNOTAVAIL'
            ? 'is not an address of this machine'
            : err.message;
    throw new UsageError(`cannot listen on ${o.host}:${o.port}: ${why}`);
  }
  const shown = o.host.includes(':') ? `[${o.host}]` : o.host;
  const what = o.model
    ? `${models.length} model${models.length === 1 ? '' : 's'}`
    : `demo models: ${models.map((m) => (typeof m === 'string' ? m : m.name)).join(', ') || 'none'}`;
  console.log(`eflip serve: http://${shown}:${port}/  (${what}; Ctrl-C stops)`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      console.error(`eflip serve: ${sig}, closing`);
      server.close().then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
