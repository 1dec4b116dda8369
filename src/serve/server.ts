// The HTTP server of `eflip serve` (node:http only): the web app's static files, the models it
// was given (as ONNX graphs the browser fetches), onnxruntime-web's wasm files, face-api's
// weights, and a small API for programs (GET /api/models, POST /api/predict). Every response
// carries the cross-origin-isolation headers (COOP/COEP) multi-threaded wasm needs. Bounded:
// request/headers timeouts (a slow client gets 408 and does not block others), a body size
// limit (413), a job queue counting uploads still being received (503 + Retry-After when full),
// a time limit per prediction that stops its work (504), and one JSON error per bad request.
// The video comes as the request body or as the one file of a multipart/form-data upload.
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { onnxSourceFor } from '../infer/load_node.js';
import { OnnxLipReader } from '../infer/onnx_lipreader.js';
import { nodePlatform } from '../infer/ort_node.js';
import { loadClip } from '../infer/frame_reader.js';
import { incompleteWarning, withToolSignal } from '../data/video.js';
import type { GraphPart, OnnxModelSource } from '../infer/onnx_model_source.js';
import { factsFromMetadata } from '../infer/onnx_model_source.js';
import { videoContainerOf } from '../io/file_kind.js';
import { clipResult } from '../cli/predict_result.js';
import { faceClipReader } from '../infer/face_clips.js';
import { MultipartError, multipartBoundary, multipartFile } from './multipart.js';
import { packageDir } from '../package_dir.js';

export interface ServeLimits {
  /** largest accepted upload, bytes */
  maxBody: number;
  /** longest accepted video, seconds */
  maxSeconds: number;
  /** whole-request receive limit, ms (Node's requestTimeout: a slow upload gets 408) */
  requestTimeoutMs: number;
  /** predict requests (uploading or waiting) behind the running one; more get 503 */
  maxQueue: number;
  /** one prediction's time limit, ms (from the start of its decoding; past it: stopped, 504) */
  jobTimeoutMs: number;
}

export const DEFAULT_LIMITS: ServeLimits = {
  maxBody: 50 << 20,
  maxSeconds: 60,
  requestTimeoutMs: 30_000,
  maxQueue: 16,
  jobTimeoutMs: 60_000,
};

export interface ServeOptions {
  /** model files, named after the file (FILE.onnx → FILE) unless a name is given */
  models: (string | { file: string; name: string })[];
  /** directory of the built web app (index.html, app.js, app.css) */
  webRoot: string;
  limits?: Partial<ServeLimits>;
  /** intra-op threads of the server-side predict runtime */
  threads?: number;
}

interface ServedModel {
  id: string;
  name: string;
  file: string;
  source: OnnxModelSource;
  labels: string[];
  preprocessing: ReturnType<typeof factsFromMetadata>['preprocessing'];
  channels: number;
  reader?: Promise<OnnxLipReader>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.onnx': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

/** A 4xx/5xx answer: status and one-line message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** requests one connection may send (pipelined or kept alive) before it is closed */
const MAX_REQUESTS_PER_SOCKET = 100;
/** open connections at once; past it new ones are closed at once (a browser opens ~6) */
const MAX_CONNECTIONS = 512;

/** Close a connection whose request body was not read, after its answer: our side is shut
 *  and what the client still sends is read and dropped for LINGER_MS, then the socket goes.
 *  Closing at once with unread data in the buffer makes the kernel reset the connection, and a
 *  client still sending may lose the answer it was sent (a flake of the endless-upload test). */
function lingerClose(req: IncomingMessage): void {
  const socket = req.socket; // the response has let go of it once finished
  if (!socket || socket.destroyed) return;
  socket.end();
  req.resume();
  socket.on('data', () => {}); // drained when the parser is detached too
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}
const LINGER_MS = 2000;

/** A JSON error written straight to a socket (outside a request: timeouts, CONNECT), closing it. */
function rawAnswer(socket: Socket, status: number, error: string): void {
  const body = JSON.stringify({ error, status }) + '\n';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** A file under `root` named by a URL path, or null (traversal, hidden names, missing). */
export function staticFile(root: string, urlPath: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (rel.includes('\0') || rel.includes('\\')) return null;
  const parts = rel.split('/').filter(Boolean);
  if (parts.some((p) => p === '..' || p.startsWith('.'))) return null;
  const base = path.resolve(root);
  const file = path.resolve(base, ...parts);
  if (file !== base && !file.startsWith(base + path.sep)) return null;
  try {
    // a symlink under the root may lead anywhere: what is served must really lie under it
    const real = realpathSync(file);
    const realBase = realpathSync(base);
    if (!real.startsWith(realBase + path.sep)) return null;
    return statSync(real).isFile() ? real : null;
  } catch {
    return null;
  }
}

/** Static files are served from memory (read once; they do not change while serving): no file
 *  stays open for a response that waits — pipelined requests on one connection opened a file
 *  each, and a connection that never read its answers held them for good. */
const STATIC_CACHE = new Map<string, Buffer>();
function staticBytes(file: string): Buffer {
  let b = STATIC_CACHE.get(file);
  if (!b) {
    b = readFileSync(file);
    STATIC_CACHE.set(file, b);
  }
  return b;
}

export class EflipServer {
  readonly http: Server;
  readonly limits: ServeLimits;
  private models: ServedModel[] = [];
  // onnxruntime-web's dist folder (its wasm + loader .mjs files), face-api's weights folder
  private readonly ortDir = path.join(packageDir('onnxruntime-web'), 'dist');
  private readonly faceDir = path.join(packageDir('@vladmandic/face-api'), 'model');
  private readonly tfWasmDir = path.join(packageDir('@tensorflow/tfjs-backend-wasm'), 'dist');
  private queue: Promise<unknown> = Promise.resolve();
  private face: ReturnType<typeof faceClipReader> | undefined;
  /** predict requests admitted and not answered: uploading, queued or running */
  private admitted = 0;
  private closing = false;
  readonly stats = { requests: 0, predictions: 0, cancelled: 0, errors4xx: 0, errors5xx: 0 };

  private constructor(private readonly o: ServeOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...o.limits };
    const rt = this.limits.requestTimeoutMs;
    // Node checks the request/headers timeouts every connectionsCheckingInterval (30 s by default)
    this.http = createServer(
      {
        requestTimeout: rt,
        headersTimeout: Math.min(10_000, rt),
        keepAliveTimeout: 5_000,
        connectionsCheckingInterval: Math.max(100, Math.min(1_000, rt / 4)),
        requireHostHeader: false, // checked in handle(), answered in JSON
      },
      (req, res) => {
        // an answer sent before the body was read (a refusal, or a GET that carried a body):
        // close the connection instead of reading and discarding whatever the client sends
        res.on('finish', () => {
          if (!req.complete) lingerClose(req);
        });
        this.handle(req, res).catch((e) => this.fail(req, res, e));
      },
    );
    // bounds per connection and in all: pipelined requests queue behind each other, a client
    // that stops reading is dropped after a quiet spell longer than any job
    this.http.maxRequestsPerSocket = MAX_REQUESTS_PER_SOCKET;
    this.http.maxConnections = MAX_CONNECTIONS;
    this.http.timeout = this.limits.jobTimeoutMs + rt;
    this.http.on('connect', (_req: IncomingMessage, socket: Socket) => {
      this.stats.errors4xx++;
      rawAnswer(socket, 405, 'CONNECT is not supported: this is not a proxy');
    });
    this.http.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
      this.fail(
        req,
        res,
        new HttpError(417, `unsupported Expect: ${String(req.headers.expect).slice(0, 40)}`),
      );
    });
    this.http.on('clientError', (e: NodeJS.ErrnoException, socket: Socket) => {
      const headers = e.code === 'ERR_HTTP_HEADERS_TIMEOUT';
      const timedOut = headers || e.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      if (timedOut) this.stats.errors4xx++;
      // one answer per request: where a response has already started on this connection, the
      // client has its answer (e.g. a refusal while it kept sending); just close
      const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage
        ?.headersSent;
      if (!socket.writable || started) {
        socket.destroy();
        return;
      }
      rawAnswer(
        socket,
        timedOut ? 408 : 400,
        headers
          ? `the request headers were not received within ${Math.min(10_000, rt)} ms`
          : timedOut
            ? `the request was not received within ${rt} ms (--request-timeout)`
            : 'malformed HTTP request',
      );
    });
  }

  /** Open the models (metadata only; an onnxruntime session is made on the first /api/predict). */
  static async create(o: ServeOptions): Promise<EflipServer> {
    const s = new EflipServer(o);
    const names = new Set<string>();
    for (const [i, m] of o.models.entries()) {
      const file = typeof m === 'string' ? m : m.file;
      const source = onnxSourceFor(file);
      const facts = factsFromMetadata(source.metadata, file);
      let name =
        typeof m === 'string'
          ? path.basename(file).replace(/\.(onnx|safetensors|ckpt)$/, '')
          : m.name;
      if (names.has(name)) name = `${name}-${i}`;
      names.add(name);
      s.models.push({
        id: String(i),
        name,
        file,
        source,
        labels: facts.labels,
        preprocessing: facts.preprocessing,
        channels: facts.channels,
      });
    }
    return s;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve((this.http.address() as { port: number }).port);
      });
    });
  }

  /** Stop accepting, let running requests finish (up to `graceMs`), free the runtimes. */
  async close(graceMs = 5_000): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((r) => this.http.close(() => r()));
    this.http.closeIdleConnections();
    const timer = setTimeout(() => this.http.closeAllConnections(), graceMs);
    await closed;
    clearTimeout(timer);
    for (const m of this.models) if (m.reader) await (await m.reader.catch(() => null))?.dispose();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (this.closing) res.setHeader('Connection', 'close');
    if (!req.headers.host) throw new HttpError(400, 'missing Host header');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      throw new HttpError(400, `malformed request target: ${String(req.url).slice(0, 80)}`);
    }
    const p = url.pathname;
    const method = req.method ?? 'GET';
    const onlyGet = () => {
      if (method !== 'GET' && method !== 'HEAD')
        throw new HttpError(405, `${method} not allowed on ${p}; use GET`, { Allow: 'GET, HEAD' });
    };
    if (p === '/api/predict') {
      if (method !== 'POST')
        throw new HttpError(405, `${method} not allowed on /api/predict; POST a video body`, {
          Allow: 'POST',
        });
      return this.predict(req, res, url);
    }
    if (p === '/api/models') {
      onlyGet();
      return this.json(res, 200, {
        models: this.models.map((m) => ({
          id: m.id,
          name: m.name,
          url: `/models/${m.id}/model.onnx`,
          frontend: `/models/${m.id}/model.frontend.onnx`,
          backend: `/models/${m.id}/model.backend.onnx`,
          classes: m.labels.length,
          labels: m.labels,
          preprocessing: m.preprocessing,
          channels: m.channels,
        })),
        limits: { maxBody: this.limits.maxBody, maxSeconds: this.limits.maxSeconds },
      });
    }
    const mm = /^\/models\/(\d+)\/model(?:\.(frontend|backend))?\.onnx$/.exec(p);
    if (mm) {
      onlyGet();
      const m = this.models[Number(mm[1])];
      if (!m) throw new HttpError(404, `no model ${mm[1]}; GET /api/models lists them`);
      const bytes = await m.source.graph((mm[2] ?? 'full') as GraphPart);
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': bytes.byteLength,
        'Cache-Control': 'no-cache',
      });
      res.end(method === 'HEAD' ? undefined : bytes);
      return;
    }
    if (p.startsWith('/api/'))
      throw new HttpError(
        404,
        `no API endpoint ${p}; there are GET /api/models and POST /api/predict`,
      );
    onlyGet();
    const file = p.startsWith('/ort/')
      ? staticFile(this.ortDir, p.slice(5))
      : p.startsWith('/face-models/')
        ? staticFile(this.faceDir, p.slice(13))
        : p.startsWith('/tfjs-wasm/') && p.endsWith('.wasm')
          ? staticFile(this.tfWasmDir, p.slice(11))
          : staticFile(this.o.webRoot, p === '/' ? 'index.html' : p);
    if (!file) throw new HttpError(404, `not found: ${p.slice(0, 200)}`);
    return this.sendFile(res, file, method === 'HEAD');
  }

  private sendFile(res: ServerResponse, file: string, head: boolean): void {
    const bytes = staticBytes(file);
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Length': bytes.byteLength,
      'Cache-Control': 'no-cache',
    });
    res.end(head ? undefined : bytes);
  }

  /** The request body, up to the size limit (413 past it, before reading when Content-Length says so). */
  private readBody(req: IncomingMessage): Promise<Buffer> {
    const max = this.limits.maxBody;
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > max)
      return Promise.reject(
        new HttpError(
          413,
          `upload of ${declared} bytes is over the limit of ${max} bytes (--max-upload-mb)`,
          { Connection: 'close' },
        ),
      );
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        if (n > max) {
          req.removeAllListeners('data');
          req.pause();
          reject(
            new HttpError(413, `upload is over the limit of ${max} bytes (--max-upload-mb)`, {
              Connection: 'close',
            }),
          );
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks, n)));
      req.on('error', (e) => reject(new HttpError(400, `upload failed: ${e.message}`)));
      req.on('aborted', () => reject(new HttpError(400, 'upload aborted')));
      // a connection closed before the end (408 from the request timeout, a client gone)
      req.on('close', () => reject(new HttpError(400, 'upload aborted')));
    });
  }

  private async predict(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const id = url.searchParams.get('model') ?? '0';
    const m = this.models[Number(id)];
    if (!/^\d+$/.test(id) || !m)
      throw new HttpError(
        404,
        this.models.length
          ? `no model '${id.slice(0, 40)}'; GET /api/models lists them`
          : 'this server was started without --model; no model to predict with',
      );
    const topRaw = url.searchParams.get('top') ?? '5';
    const top = Number(topRaw);
    if (!/^\d+$/.test(topRaw) || top < 1 || top > 1000)
      throw new HttpError(400, `top must be an integer 1..1000, got '${topRaw.slice(0, 20)}'`);
    const faceRaw = url.searchParams.get('face');
    if (faceRaw !== null && !['0', '1', 'true', 'false'].includes(faceRaw))
      throw new HttpError(400, `face must be 1 or 0, got '${faceRaw.slice(0, 20)}'`);
    const face = faceRaw === '1' || faceRaw === 'true';
    let boundary: string | null;
    try {
      boundary = multipartBoundary(req.headers['content-type']);
    } catch (e) {
      throw new HttpError(400, (e as Error).message, { Connection: 'close' });
    }
    // admitted counts uploads still arriving, queued jobs and the running one: up to maxQueue
    // requests wait behind the running job, so a flood of slow uploads is refused too
    if (this.admitted > this.limits.maxQueue)
      throw new HttpError(
        503,
        `busy: ${this.admitted} predictions uploading, queued or running (--queue ${this.limits.maxQueue}); retry shortly`,
        { 'Retry-After': '2', Connection: 'close' },
      );
    this.admitted++;
    // a client that goes before its answer: its job is dropped from the queue or stopped
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    try {
      let body = await this.readBody(req);
      if (boundary) {
        try {
          body = multipartFile(body, boundary).data;
        } catch (e) {
          if (e instanceof MultipartError) throw new HttpError(400, e.message);
          throw e;
        }
        if (body.length === 0)
          throw new HttpError(400, 'the uploaded file is empty: send the video file');
      }
      if (body.length === 0)
        throw new HttpError(
          400,
          'empty body: POST the video file as the request body (or as a multipart/form-data file)',
        );
      const kind = videoContainerOf(body);
      if (!kind)
        throw new HttpError(
          415,
          'the body is not a video (no MP4/MOV, WebM/MKV, AVI, MPEG-TS, Ogg or FLV signature)',
        );
      // one job at a time: each waits until the one before has really stopped
      const turn = this.queue;
      let release!: () => void;
      this.queue = new Promise<void>((r) => (release = r));
      await turn;
      if (gone.signal.aborted) {
        // its client left while it waited: the next job's turn now
        this.stats.cancelled++;
        release();
        return;
      }
      const result = await this.runJob(m, body, kind, top, face, release, gone.signal);
      this.stats.predictions++;
      this.json(res, 200, result);
    } finally {
      this.admitted--;
    }
  }

  /** One prediction; calls `release` (the next job's turn) once its work has really stopped. */
  private async runJob(
    m: ServedModel,
    body: Buffer,
    ext: string,
    top: number,
    face: boolean,
    release: () => void,
    clientGone: AbortSignal,
  ): Promise<unknown> {
    let dir: string | undefined;
    let file = '';
    const done = () => {
      clientGone.removeEventListener('abort', stopForGone);
      if (dir) rmSync(dir, { recursive: true, force: true });
      release();
    };
    let work: Promise<unknown>;
    const cancel = new AbortController();
    const stopForGone = () => {
      this.stats.cancelled++;
      cancel.abort();
    };
    clientGone.addEventListener('abort', stopForGone, { once: true });
    try {
      dir = mkdtempSync(path.join(tmpdir(), 'eflip-serve-'));
      file = path.join(dir, `upload.${ext}`);
      writeFileSync(file, body);
      // the runtimes load once, outside the job's time limit
      m.reader ??= nodePlatform('cpu', this.o.threads)
        .then((pl) => OnnxLipReader.open(pl, m.source))
        .catch((e) => {
          m.reader = undefined;
          throw e;
        });
      const reader = await m.reader;
      const faces = face
        ? await (this.face ??= faceClipReader({ cache: false }).catch((e) => {
            this.face = undefined;
            throw e;
          }))
        : undefined;
      work = withToolSignal(cancel.signal, async () => {
        let warning: string | undefined;
        const onIncomplete = (decoded: number, expected: number) =>
          (warning = incompleteWarning('upload', decoded, expected).replace(/^warning: /, ''));
        // face=1: arbitrary footage through the mouth-ROI pipeline, as `eflip predict --face`
        const clip = faces
          ? await faces.load(
              file,
              reader.preprocessing,
              reader.channels,
              this.limits.maxSeconds,
              onIncomplete,
            )
          : await loadClip(file, reader.preprocessing, {
              maxSeconds: this.limits.maxSeconds,
              channels: reader.channels,
              onIncomplete,
            });
        const t0 = performance.now();
        const [lp] = await reader.predictBatch([clip]);
        return {
          ...(warning ? { warning } : {}),
          ...clipResult(reader, lp, clip.frames, clip.fps ?? 25, top, performance.now() - t0),
        };
      });
    } catch (e) {
      done();
      throw this.clientError(e, file);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.limits.jobTimeoutMs);
    });
    const settled = work.then(
      () => 'work' as const,
      () => 'work' as const,
    );
    const first = await Promise.race([settled, timeout]);
    clearTimeout(timer);
    if (first === 'work') {
      done();
      try {
        return await work;
      } catch (e) {
        throw this.clientError(e, file);
      }
    }
    // over the limit: stop the work for real — its decoders are killed (and any it starts later
    // die at once), so it fails; the next job starts only then
    this.stats.cancelled++;
    cancel.abort();
    const stopped = () => {
      clearTimeout(giveUp);
      done();
    };
    // work that never notices its decoders are gone must not hold the queue for ever
    const giveUp = setTimeout(stopped, Math.max(10_000, this.limits.jobTimeoutMs));
    void settled.finally(stopped);
    throw new HttpError(
      504,
      `the prediction ran over the ${this.limits.jobTimeoutMs / 1000} s limit (--job-timeout) and was stopped`,
    );
  }

  /** A job's failure as the HTTP answer: video problems the client caused are 413/422. */
  private clientError(e: unknown, file: string): unknown {
    if (e instanceof HttpError) return e;
    const err = e as Error & { kind?: string };
    const msg = String(err?.message ?? e)
      .split(file || '\0')
      .join('upload');
    // unreadable, truncated, too long, no frames, no face
    if (err.name === 'VideoError' || err.name === 'InferenceInputError' || err.name === 'RoiError')
      return new HttpError(err.kind === 'too-long' ? 413 : 422, msg);
    return e;
  }

  private json(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const s = JSON.stringify(body) + '\n';
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(s),
      'Cache-Control': 'no-store',
      ...headers,
    });
    res.end(s);
  }

  private fail(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    const h =
      e instanceof HttpError
        ? e
        : new HttpError(
            500,
            `internal error: ${(e as Error)?.message ?? String(e)}`.split('\n')[0],
          );
    if (h.status >= 500) this.stats.errors5xx++;
    else this.stats.errors4xx++;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    // a refused upload is not read further: the connection closes after the answer, through
    // lingerClose (a `Connection: close` answer makes Node destroy the socket at once, and a
    // client still sending then loses the answer to a reset)
    const headers: Record<string, string> = { ...h.headers };
    if (!req.complete) delete headers.Connection;
    this.json(res, h.status, { error: h.message, status: h.status }, headers);
    if (headers.Connection === 'close' && req.complete)
      res.on('finish', () => res.socket?.destroySoon?.());
  }
}
