// `eflip serve` over real sockets on 127.0.0.1: static files with the cross-origin-isolation
// headers, the model list and model files, refusals (404/405/413/415/422, path traversal), a
// load run mixing good clips and bad bodies (good ones answer like `eflip predict --json`, bad
// ones 4xx, no crash, bounded RSS), a slow upload that does not block others, and SIGTERM.
// Also multipart/form-data uploads (good and hostile), a flood of slow uploads counted against
// --queue (503), and a prediction over --job-timeout stopped for real (its ffmpeg killed, 504).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT, tempDir } from './onnx_helpers.js';
import { toolPids } from './proc_helpers.js';
import { photoVideo } from './data_helpers.js';
import {
  assertSameTop,
  demoOnnxAndCliAnswers,
  eflipSync,
  json,
  req,
  startServe,
  type Reply,
  type Served,
} from './serve_helpers.js';

const SAMPLES = ['ABOUT_00001.mp4', 'ABUSE_00001.mp4'].map((f) =>
  path.join(ROOT, 'assets/samples', f),
);

/** A multipart/form-data body: `parts` of [headers, content]; `close` false leaves it unterminated. */
function multipart(boundary: string, parts: [string, Uint8Array | string][], close = true): Buffer {
  const out: Buffer[] = [];
  for (const [h, c] of parts)
    out.push(Buffer.from(`--${boundary}\r\n${h}\r\n\r\n`), Buffer.from(c), Buffer.from('\r\n'));
  if (close) out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

/** A raw socket that sends the headers and a little of a body, then stalls; `answer` is what came back. */
function stalledUpload(port: number, length: number) {
  const c = connect(port, '127.0.0.1');
  let out = '';
  c.on('data', (b) => (out += b));
  c.on('error', () => {});
  const closed = new Promise<void>((r) => c.on('close', () => r()));
  c.write(
    `POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\nContent-Length: ${length}\r\n\r\n`,
  );
  c.write(Buffer.alloc(100, 1));
  return { closed, answer: () => out, destroy: () => c.destroy() };
}

/** A 0.4 s grey clip of `size` (WxH) at 25 fps; its path. */
function greyVideo(file: string, size: string): string {
  const r = spawnSync('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    `color=c=gray:s=${size}:d=0.4:r=25`,
    '-pix_fmt',
    'yuv420p',
    file,
  ]);
  assert.equal(r.status, 0, String(r.stderr));
  return file;
}

function isolated(r: Reply) {
  assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin');
  assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp');
}

test(
  'eflip serve: files, models, API, refusals, load, slow client, shutdown',
  { timeout: 300_000 },
  async (t) => {
    const { dir, cleanup } = tempDir('eflip-serve-');
    let s: Served | null = null;
    try {
      const { onnx, expected } = demoOnnxAndCliAnswers(dir, SAMPLES);
      // the per-user cache of every child (the CLI's landmark cache; the server must write none)
      const userCache = path.join(dir, 'user-cache');
      process.env.EFLIP_CACHE_DIR = userCache;
      s = await startServe([
        '--model',
        onnx,
        '--model',
        path.join(ROOT, 'assets/demo/model.safetensors'),
        '--max-upload-mb',
        '0.25',
        '--request-timeout',
        '3',
      ]);
      const port = s.port;

      await t.test('static files and COOP/COEP headers', async () => {
        const index = await req(port, 'GET', '/');
        assert.equal(index.status, 200);
        isolated(index);
        assert.match(String(index.headers['content-type']), /text\/html/);
        assert.match(index.body.toString(), /<script type="module" src="\/app\.js">/);
        const app = await req(port, 'GET', '/app.js');
        assert.equal(app.status, 200);
        assert.match(String(app.headers['content-type']), /text\/javascript/);
        assert.ok(app.body.length > 10_000);
        const worker = await req(port, 'GET', '/model_worker.js');
        assert.equal(worker.status, 200, 'the webcam model worker is served');
        isolated(worker);
        const wasm = await req(port, 'HEAD', '/ort/ort-wasm-simd-threaded.wasm');
        assert.equal(wasm.status, 200);
        assert.equal(wasm.headers['content-type'], 'application/wasm');
        isolated(wasm);
        const face = await req(
          port,
          'GET',
          '/face-models/face_landmark_68_model-weights_manifest.json',
        );
        assert.equal(face.status, 200, 'face-api weights are served from the npm package');
      });

      await t.test('model list and model files', async () => {
        const r = await req(port, 'GET', '/api/models');
        assert.equal(r.status, 200);
        const { models } = json(r);
        assert.equal(models.length, 2);
        assert.deepEqual(
          models.map((m: any) => m.name),
          ['demo', 'model'],
        );
        assert.equal(models[0].classes, 10);
        const full = await req(port, 'GET', models[0].url);
        assert.equal(full.status, 200);
        assert.ok(full.body.equals(readFileSync(onnx)), 'the served .onnx is the file given');
        const fe = await req(port, 'GET', models[0].frontend);
        assert.ok(fe.body.equals(readFileSync(path.join(dir, 'demo.frontend.onnx'))));
        const exported = await req(port, 'GET', models[1].backend);
        assert.equal(exported.status, 200, 'a checkpoint is exported to ONNX in memory');
        assert.ok(exported.body.length > 1000);
        assert.equal((await req(port, 'GET', '/models/7/model.onnx')).status, 404);
      });

      await t.test('refusals: 404, 405, 413, 415, 400, 422, path traversal', async () => {
        const cases: [string, string, Uint8Array | null, number, RegExp][] = [
          ['GET', '/nope.html', null, 404, /not found/],
          ['GET', '/api/nothing', null, 404, /no API endpoint/],
          ['DELETE', '/', null, 405, /DELETE not allowed/],
          ['GET', '/api/predict', null, 405, /POST a video/],
          ['POST', '/api/models', Buffer.from('x'), 405, /use GET/],
          ['POST', '/api/predict', Buffer.alloc(300_000, 7), 413, /over the limit/],
          ['POST', '/api/predict', Buffer.from('<html>not a video</html>'), 415, /not a video/],
          ['POST', '/api/predict', Buffer.alloc(0), 400, /empty body/],
          [
            'POST',
            '/api/predict',
            readFileSync(SAMPLES[0]).subarray(0, 3000),
            422,
            /truncated|incomplete|invalid/,
          ],
          ['POST', '/api/predict?model=9', readFileSync(SAMPLES[0]), 404, /no model/],
          ['POST', '/api/predict?top=0', readFileSync(SAMPLES[0]), 400, /top must be/],
        ];
        for (const [m, p, body, status, msg] of cases) {
          const r = await req(port, m, p, body);
          assert.equal(r.status, status, `${m} ${p}: ${r.status} ${r.body} ${r.error ?? ''}`);
          const e = json(r);
          assert.match(e.error, msg, `${m} ${p}`);
          assert.ok(!/\n|at .*\.js:\d+/.test(e.error), `one line, no stack: ${e.error}`);
        }
        // oversize without Content-Length (chunked): refused while reading
        const chunked = await req(port, 'POST', '/api/predict', null, {
          'Transfer-Encoding': 'chunked',
        });
        assert.equal(chunked.status, 400, 'empty chunked body');
        for (const p of [
          '/../../../../etc/passwd',
          '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
          '/..%2f..%2f..%2fetc%2fpasswd',
          '/ort/..%2f..%2f..%2fpackage.json',
          '/.git/config',
          '/%00index.html',
        ]) {
          // a raw request line, as curl --path-as-is would send it
          const raw = await new Promise<string>((resolve) => {
            const c = connect(port, '127.0.0.1', () =>
              c.end(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
            );
            let out = '';
            c.on('data', (b) => (out += b));
            c.on('close', () => resolve(out));
            c.on('error', () => resolve(out));
          });
          assert.match(raw, /^HTTP\/1\.1 (400|404)/, `${p}: ${raw.slice(0, 100)}`);
          assert.ok(!/root:|"dependencies"|\[core\]/.test(raw), `${p} leaked a file`);
        }
      });

      await t.test('POST /api/predict answers like eflip predict --json', async () => {
        for (const [i, f] of SAMPLES.entries()) {
          const r = await req(port, 'POST', '/api/predict?top=5', readFileSync(f), {
            'Content-Type': 'video/mp4',
          });
          assert.equal(r.status, 200, r.body.toString());
          const got = json(r);
          assert.equal(got.frames, expected[i].frames);
          assertSameTop(got.top, expected[i].top);
        }
        // face=1: arbitrary footage through the mouth-ROI pipeline, as `eflip predict --face`
        const messi = path.join(dir, 'messi.mp4');
        photoVideo(messi, 0.6);
        const cliFace = eflipSync([
          'predict',
          messi,
          '--checkpoint',
          onnx,
          '--face',
          '--top',
          '5',
          '--json',
        ]);
        assert.equal(cliFace.code, 0, cliFace.stderr);
        const viaFace = await req(port, 'POST', '/api/predict?face=1', readFileSync(messi));
        assert.equal(viaFace.status, 200, viaFace.body.toString());
        assertSameTop(json(viaFace).top, JSON.parse(cliFace.stdout).results[0].top);
        // the server writes nothing outside its temporary directory: no landmark cache entry for
        // an upload (new content: the same clip with a trailing byte)
        const cached = () =>
          existsSync(path.join(userCache, 'landmarks'))
            ? readdirSync(path.join(userCache, 'landmarks')).sort()
            : [];
        const before = cached();
        const other = Buffer.concat([readFileSync(messi), Buffer.from('x')]);
        assert.equal((await req(port, 'POST', '/api/predict?face=1', other)).status, 200);
        assert.deepEqual(cached(), before, 'the server wrote a landmark cache entry');
        const noFace = greyVideo(path.join(dir, 'grey.mp4'), '320x240');
        const nf = await req(port, 'POST', '/api/predict?face=1', readFileSync(noFace));
        assert.equal(nf.status, 422, nf.body.toString());
        assert.match(json(nf).error, /no face found/);
        assert.equal(
          (await req(port, 'POST', '/api/predict?face=maybe', readFileSync(messi))).status,
          400,
        );
        // a video cut in half reads its first frames, with the CLI's truncation warning
        const half = await req(
          port,
          'POST',
          '/api/predict',
          readFileSync(SAMPLES[0]).subarray(0, 6000),
        );
        assert.equal(half.status, 200, half.body.toString());
        assert.match(json(half).warning, /only \d+ of 29 frames decode/);
      });

      await t.test('a slow upload times out (408) without blocking other clients', async () => {
        const slow = connect(port, '127.0.0.1');
        let slowOut = '';
        slow.on('data', (b) => (slowOut += b));
        slow.on('error', () => {});
        const slowClosed = new Promise<void>((r) => slow.on('close', () => r()));
        slow.write(
          'POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\nContent-Length: 100000\r\n\r\n',
        );
        slow.write(readFileSync(SAMPLES[0]).subarray(0, 100)); // and then nothing more
        const t0 = performance.now();
        const good = await req(port, 'POST', '/api/predict', readFileSync(SAMPLES[1]));
        const ms = performance.now() - t0;
        assert.equal(good.status, 200);
        assert.ok(ms < 2500, `a good request behind a stalled upload took ${ms.toFixed(0)} ms`);
        await slowClosed;
        const waited = performance.now() - t0;
        assert.match(
          slowOut,
          /^HTTP\/1\.1 408/,
          `stalled upload answered: ${slowOut.slice(0, 80)}`,
        );
        assert.ok(waited < 15_000, `stalled upload closed after ${waited.toFixed(0)} ms`);
      });

      await t.test(
        'load: 200 requests at concurrency 8, good and bad bodies, bounded RSS',
        async () => {
          const good = SAMPLES.map((f) => readFileSync(f));
          const bodies: { body: Buffer; want: number | 'good'; i?: number }[] = [
            { body: good[0], want: 'good', i: 0 },
            { body: good[1], want: 'good', i: 1 },
            { body: Buffer.alloc(0), want: 400 },
            { body: good[0].subarray(0, 3000), want: 422 },
            { body: Buffer.from('GIF89a not a video at all'), want: 415 },
            { body: Buffer.alloc(400_000, 1), want: 413 },
          ];
          // warm-up: one of each
          for (const b of bodies) await req(port, 'POST', '/api/predict', b.body);
          const rss0 = s!.rssMiB();
          const N = 200;
          let next = 0,
            ok = 0,
            refused = 0;
          const lat: number[] = [];
          const t0 = performance.now();
          await Promise.all(
            Array.from({ length: 8 }, async () => {
              while (next < N) {
                const k = next++;
                const b = bodies[k % bodies.length];
                const t1 = performance.now();
                const r = await req(port, 'POST', '/api/predict', b.body);
                lat.push(performance.now() - t1);
                if (b.want === 'good') {
                  assert.equal(r.status, 200, `request ${k}: ${r.status} ${r.body}`);
                  assertSameTop(json(r).top, expected[b.i!].top);
                  ok++;
                } else {
                  assert.equal(
                    r.status,
                    b.want,
                    `request ${k}: ${r.status} ${r.body} ${r.error ?? ''}`,
                  );
                  assert.ok(json(r).error);
                  refused++;
                }
              }
            }),
          );
          const secs = (performance.now() - t0) / 1000;
          const rss1 = s!.rssMiB();
          lat.sort((a, b) => a - b);
          t.diagnostic(
            `load: ${N} requests in ${secs.toFixed(1)} s (${(N / secs).toFixed(1)} req/s), ${ok} good, ${refused} refused, p50 ${lat[N >> 1].toFixed(0)} ms, p95 ${lat[Math.floor(N * 0.95)].toFixed(0)} ms, RSS ${rss0.toFixed(0)} → ${rss1.toFixed(0)} MiB`,
          );
          assert.equal(ok + refused, N);
          assert.equal(s!.child.exitCode, null, 'the server is still up');
          assert.ok(rss1 - rss0 < 50, `RSS grew by ${(rss1 - rss0).toFixed(0)} MiB`);
        },
      );

      await t.test('a full queue answers 503 with Retry-After', async () => {
        const q = await startServe(['--model', onnx, '--queue', '0']);
        try {
          const clip = readFileSync(SAMPLES[0]);
          const rs = await Promise.all(
            Array.from({ length: 4 }, () => req(q.port, 'POST', '/api/predict', clip)),
          );
          const ok = rs.filter((r) => r.status === 200),
            busy = rs.filter((r) => r.status === 503);
          assert.equal(ok.length + busy.length, 4, rs.map((r) => r.status).join(','));
          assert.ok(ok.length >= 1 && busy.length >= 1, `statuses ${rs.map((r) => r.status)}`);
          assert.equal(busy[0].headers['retry-after'], '2');
          assert.match(json(busy[0]).error, /busy/);
          ok.forEach((r) => assertSameTop(json(r).top, expected[0].top));
        } finally {
          await q.stop();
        }
      });

      await t.test(
        'multipart/form-data: one file field like a raw body; hostile forms 400',
        async () => {
          const clip = readFileSync(SAMPLES[0]);
          const B = '----eflipFormBoundary7MA4YWxkTrZu0gW';
          const form = multipart(B, [
            [
              'Content-Disposition: form-data; name="video"; filename="ABOUT_00001.mp4"\r\nContent-Type: video/mp4',
              clip,
            ],
          ]);
          const ok = await req(port, 'POST', '/api/predict?top=5', form, {
            'Content-Type': `multipart/form-data; boundary=${B}`,
          });
          assert.equal(ok.status, 200, ok.body.toString());
          assertSameTop(json(ok).top, expected[0].top, 'same answer as the raw body and the CLI');
          // a quoted boundary and a preamble, as some clients send
          const quoted = await req(
            port,
            'POST',
            '/api/predict?top=5',
            Buffer.concat([Buffer.from('preamble\r\n'), form]),
            { 'Content-Type': `multipart/form-data; boundary="${B}"` },
          );
          assert.equal(quoted.status, 200, quoted.body.toString());
          const fileHead = 'Content-Disposition: form-data; name="video"; filename="a.mp4"';
          const cases: [string, Record<string, string>, Buffer, number, RegExp][] = [
            [
              'no boundary',
              { 'Content-Type': 'multipart/form-data' },
              form,
              400,
              /without a boundary/,
            ],
            [
              'bad boundary',
              { 'Content-Type': `multipart/form-data; boundary=${'x'.repeat(80)}` },
              form,
              400,
              /boundary is not valid/,
            ],
            [
              'mixed, not form-data',
              { 'Content-Type': `multipart/mixed; boundary=${B}` },
              form,
              400,
              /multipart\/mixed is not accepted/,
            ],
            [
              'huge part headers',
              { 'Content-Type': `multipart/form-data; boundary=${B}` },
              multipart(B, [[`${fileHead}\r\nX-Pad: ${'p'.repeat(20_000)}`, clip]]),
              400,
              /part headers are over 8192 bytes/,
            ],
            [
              'two files',
              { 'Content-Type': `multipart/form-data; boundary=${B}` },
              multipart(B, [
                [fileHead, clip],
                [fileHead.replace('a.mp4', 'b.mp4'), clip],
              ]),
              400,
              /more than one part/,
            ],
            [
              'truncated (no closing boundary)',
              { 'Content-Type': `multipart/form-data; boundary=${B}` },
              multipart(B, [[fileHead, clip]], false).subarray(0, 5000),
              400,
              /truncated/,
            ],
            [
              'a text field, no file',
              { 'Content-Type': `multipart/form-data; boundary=${B}` },
              multipart(B, [['Content-Disposition: form-data; name="video"', 'hello']]),
              400,
              /is not a file/,
            ],
            [
              'boundary never occurs',
              { 'Content-Type': `multipart/form-data; boundary=${B}` },
              clip,
              400,
              /boundary of Content-Type never occurs/,
            ],
            [
              'empty file',
              { 'Content-Type': `multipart/form-data; boundary=${B}` },
              multipart(B, [[fileHead, '']]),
              400,
              /uploaded file is empty/,
            ],
            [
              'a file that is not a video',
              { 'Content-Type': `multipart/form-data; boundary=${B}` },
              multipart(B, [[fileHead, '<html>not a video</html>']]),
              415,
              /not a video/,
            ],
          ];
          for (const [what, headers, body, status, msg] of cases) {
            const t0 = performance.now();
            const r = await req(port, 'POST', '/api/predict', body, headers);
            assert.equal(r.status, status, `${what}: ${r.status} ${r.body} ${r.error ?? ''}`);
            const e = json(r);
            assert.match(e.error, msg, what);
            assert.ok(!/\n|at .*\.js:\d+/.test(e.error), `one line, no stack: ${e.error}`);
            assert.ok(performance.now() - t0 < 5000, `${what} answered promptly`);
          }
        },
      );

      await t.test(
        'slow uploads count against --queue (503); a job over --job-timeout is stopped (504)',
        async () => {
          const q = await startServe([
            '--model',
            onnx,
            '--queue',
            '1',
            '--request-timeout',
            '4',
            '--job-timeout',
            '5',
          ]);
          try {
            // two uploads that never finish fill the running slot and the one queue place
            const slow = [stalledUpload(q.port, 100_000), stalledUpload(q.port, 100_000)];
            await new Promise((r) => setTimeout(r, 300));
            const t0 = performance.now();
            const busy = await req(q.port, 'POST', '/api/predict', readFileSync(SAMPLES[0]));
            assert.equal(busy.status, 503, busy.body.toString());
            assert.equal(busy.headers['retry-after'], '2');
            assert.match(json(busy).error, /busy: 2 predictions uploading, queued or running/);
            assert.ok(performance.now() - t0 < 2000, 'refused at once, not after the uploads');
            await Promise.all(slow.map((c) => c.closed));
            for (const c of slow) assert.match(c.answer(), /^HTTP\/1\.1 408/);
            // their places are free again
            const after = await req(q.port, 'POST', '/api/predict', readFileSync(SAMPLES[1]));
            assert.equal(after.status, 200, after.body.toString());
            assertSameTop(json(after).top, expected[1].top);

            // a prediction that runs past --job-timeout (5 s; a sample clip takes well under 1 s on a
            // quiet machine): face tracking over 12 s of video
            const long = path.join(dir, 'long-face.mp4');
            photoVideo(long, 12, ['-preset', 'ultrafast']);
            let sawTool = 0;
            const watch = setInterval(
              () => (sawTool = Math.max(sawTool, toolPids(q.child.pid!).length)),
              20,
            );
            const t1 = performance.now();
            const slowJob = await req(q.port, 'POST', '/api/predict?face=1', readFileSync(long));
            clearInterval(watch);
            assert.equal(slowJob.status, 504, slowJob.body.toString());
            assert.match(
              json(slowJob).error,
              /ran over the 5 s limit \(--job-timeout\) and was stopped/,
            );
            assert.ok(sawTool > 0, 'ffmpeg was decoding the upload when the limit passed');
            // its decoder is killed: no ffmpeg/ffprobe left under the server within a second
            let left = toolPids(q.child.pid!);
            for (let i = 0; i < 20 && left.length; i++) {
              await new Promise((r) => setTimeout(r, 50));
              left = toolPids(q.child.pid!);
            }
            assert.deepEqual(left, [], 'the stopped job left no decoder running');
            // and the next job is served at once (it waited for the stopped one to end)
            const t2 = performance.now();
            const next = await req(q.port, 'POST', '/api/predict', readFileSync(SAMPLES[0]));
            assert.equal(next.status, 200, next.body.toString());
            assertSameTop(json(next).top, expected[0].top);
            t.diagnostic(
              `job timeout: 504 after ${(t2 - t1).toFixed(0)} ms (face models load outside the limit); next job ${(performance.now() - t2).toFixed(0)} ms`,
            );
          } finally {
            await q.stop();
          }
        },
      );

      await t.test(
        'hostile clients: pipelining, endless refused bodies, odd request lines, tiny frames',
        async () => {
          const pid = s!.child.pid!;
          const fds = () => readdirSync(`/proc/${pid}/fd`).length;
          const raw = (text: string | Buffer, waitMs = 3000) =>
            new Promise<string>((resolve) => {
              const c = connect(port, '127.0.0.1', () => c.write(text));
              let out = '';
              c.on('data', (b) => (out += b));
              c.on('close', () => resolve(out));
              c.on('error', () => resolve(out));
              setTimeout(() => c.destroy(), waitMs);
            });
          // 300 pipelined GETs of a static file, never read, the client gone after 1 s: no file
          // stays open (each opened one and kept it)
          const fd0 = fds();
          await new Promise<void>((resolve) => {
            const c = connect(port, '127.0.0.1', () => {
              c.pause();
              c.write('GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(300));
            });
            c.on('error', () => {});
            setTimeout(() => {
              c.destroy();
              resolve();
            }, 1000);
          });
          await new Promise((r) => setTimeout(r, 1000));
          assert.ok(fds() <= fd0 + 5, `open files ${fd0} → ${fds()}`);
          // a refused upload that keeps coming: one answer, then the connection is closed
          // (it was read and discarded until the request timeout, then answered a second time)
          const t0 = performance.now();
          const endless = await new Promise<string>((resolve) => {
            const c = connect(port, '127.0.0.1');
            let out = '';
            c.on('data', (b) => (out += b));
            c.on('error', () => {});
            c.on('close', () => resolve(out));
            c.write(
              'POST /api/predict?top=0 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
            );
            const chunk = Buffer.concat([
              Buffer.from('10000\r\n'),
              Buffer.alloc(65536, 65),
              Buffer.from('\r\n'),
            ]);
            const pump = () => {
              while (!c.destroyed && c.write(chunk));
              if (!c.destroyed) c.once('drain', pump);
            };
            pump();
            setTimeout(() => c.destroy(), 10_000);
          });
          assert.deepEqual(
            endless.match(/HTTP\/1\.1 \d+/g),
            ['HTTP/1.1 400'],
            endless.slice(0, 300),
          );
          assert.ok(
            performance.now() - t0 < 5000,
            `closed after ${(performance.now() - t0).toFixed(0)} ms`,
          );
          // request lines Node parses but a URL cannot hold, CONNECT, no Host: one-line JSON errors
          for (const [text, status, msg] of [
            [
              'GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
              400,
              /malformed request target/,
            ],
            ['CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n', 405, /CONNECT is not supported/],
            ['GET / HTTP/1.1\r\nConnection: close\r\n\r\n', 400, /missing Host header/],
          ] as [string, number, RegExp][]) {
            const out = await raw(text);
            assert.match(out, new RegExp(`^HTTP/1\\.1 ${status} `), out.slice(0, 200));
            const body = JSON.parse(
              out
                .slice(out.indexOf('\r\n\r\n') + 4)
                .split('\r\n')
                .find((l) => l.startsWith('{'))!,
            );
            assert.match(body.error, msg);
          }
          // square frames smaller than the model's crop: the client's video, 422 (was a 500)
          const tiny = greyVideo(path.join(dir, 'tiny.mp4'), '32x32');
          const t = await req(port, 'POST', '/api/predict?model=0', readFileSync(tiny));
          assert.equal(t.status, 422, t.body.toString());
          assert.match(json(t).error, /frames are 32×32, smaller than the model's 64×64 crop/);
          // still serving
          assert.equal((await req(port, 'GET', '/api/models')).status, 200);
        },
      );

      await t.test('SIGTERM closes it cleanly', async () => {
        const code = await s!.stop('SIGTERM');
        assert.equal(code, 0, s!.log());
        assert.match(s!.log(), /SIGTERM, closing/);
      });

      await t.test('refused start: port in use, bad option, bad model', async () => {
        const busy = await startServe([]);
        try {
          const r = eflipSync(['serve', '--port', String(busy.port)]);
          assert.equal(r.code, 2, r.stderr);
          assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+: is in use/);
        } finally {
          await busy.stop();
        }
        const empty = eflipSync(['serve', '--host', '', '--port', '0']);
        assert.equal(empty.code, 2, empty.stderr);
        assert.match(empty.stderr, /--host is empty/);
        const bad = eflipSync(['serve', '--model', path.join(dir, 'missing.onnx'), '--port', '0']);
        assert.notEqual(bad.code, 0);
        assert.match(bad.stderr, /missing\.onnx: no such model file/);
        assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
      });
    } finally {
      await s?.stop('SIGKILL');
      cleanup();
    }
  },
);

test('staticFile: nothing outside the root, also through a symlink inside it', async () => {
  const { staticFile } = await import('../src/serve/server.js');
  const { dir, cleanup } = tempDir('eflip-static-');
  try {
    const root = path.join(dir, 'web');
    mkdirSync(root);
    writeFileSync(path.join(root, 'index.html'), '<p>hi</p>');
    writeFileSync(path.join(dir, 'secret.txt'), 'secret');
    symlinkSync(path.join(dir, 'secret.txt'), path.join(root, 'link.txt'));
    symlinkSync(dir, path.join(root, 'up'));
    assert.equal(staticFile(root, 'index.html'), path.join(root, 'index.html'));
    for (const p of ['link.txt', 'up/secret.txt', '../secret.txt', '%2e%2e/secret.txt'])
      assert.equal(staticFile(root, p), null, p);
  } finally {
    cleanup();
  }
});
