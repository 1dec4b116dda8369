// A small Chrome DevTools Protocol client (tests and `eflip bench webapp`) over Chromium's --remote-debugging-pipe (fd 3: our
// commands, fd 4: its replies; NUL-separated JSON), for tests that drive a page: evaluate,
// set a file input's files (a real upload), screenshot, emulate a viewport.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export class Cdp {
  private id = 0;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private buf = '';
  log = '';
  session = '';
  private constructor(
    readonly chrome: ChildProcess,
    private readonly out: Writable,
    inp: Readable,
  ) {
    inp.on('data', (b: Buffer) => {
      this.buf += b.toString('utf8');
      let i;
      while ((i = this.buf.indexOf('\0')) >= 0) {
        const msg = JSON.parse(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
        const p = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
        if (!p) continue;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`${msg.error.message} ${msg.error.data ?? ''}`));
        else p.resolve(msg.result);
      }
    });
    chrome.stderr!.on('data', (b: Buffer) => (this.log = (this.log + b.toString()).slice(-4000)));
    chrome.on('exit', (code) => {
      for (const p of this.pending.values())
        p.reject(new Error(`chromium exited (${code}):\n${this.log}`));
      this.pending.clear();
    });
  }

  /** Start Chromium headless on `url` and attach to its page. */
  static async launch(chromium: string, url: string, flags: string[]): Promise<Cdp> {
    const chrome = spawn(
      chromium,
      [
        '--headless=new',
        '--no-sandbox',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--remote-debugging-pipe',
        ...flags,
        'about:blank',
      ],
      // its own process group: close() stops the helper processes (renderers, crashpad) too,
      // which otherwise keep writing into the profile directory while it is removed
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true },
    );
    const c = new Cdp(chrome, chrome.stdio[3] as Writable, chrome.stdio[4] as Readable);
    const { targetId } = await c.send('Target.createTarget', { url: 'about:blank' });
    c.session = (await c.send('Target.attachToTarget', { targetId, flatten: true })).sessionId;
    await c.page('Page.enable');
    await c.page('Page.navigate', { url });
    return c;
  }

  send(method: string, params: object = {}, sessionId?: string): Promise<any> {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.out.write(
        JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0',
      );
    });
  }

  /** A command to the attached page. */
  page(method: string, params: object = {}): Promise<any> {
    return this.send(method, params, this.session);
  }

  /** The value of an expression in the page (promises awaited). */
  async eval(expression: string): Promise<any> {
    const r = await this.page('Runtime.evaluate', {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    if (r.exceptionDetails)
      throw new Error(
        `page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`,
      );
    return r.result.value;
  }

  /** Poll an expression until it is truthy (or time out with the last value). */
  async waitFor(expression: string, ms: number): Promise<any> {
    const t0 = Date.now();
    let v: any;
    while (Date.now() - t0 < ms) {
      v = await this.eval(expression).catch(() => undefined);
      if (v) return v;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `page: '${expression}' not true within ${ms} ms (last ${JSON.stringify(v)})\n${this.log}`,
    );
  }

  /** Set the files of the <input type=file> matching `selector` (fires its change event). */
  async upload(selector: string, files: string[]): Promise<void> {
    const { root } = await this.page('DOM.getDocument', {});
    const { nodeId } = await this.page('DOM.querySelector', { nodeId: root.nodeId, selector });
    if (!nodeId) throw new Error(`no element ${selector}`);
    await this.page('DOM.setFileInputFiles', { nodeId, files });
  }

  async screenshot(width: number, height: number): Promise<Buffer> {
    await this.page('Emulation.setDeviceMetricsOverride', {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: width < 600,
    });
    const { data } = await this.page('Page.captureScreenshot', {
      format: 'png',
      captureBeyondViewport: true,
    });
    return Buffer.from(data, 'base64');
  }

  /** Stop Chromium and every process it started (its process group). */
  async close(): Promise<void> {
    await killGroup(this.chrome);
  }
}

/** SIGKILL a child started with `detached: true` and every process of its group, and wait until
 *  the child has exited and no process of the group is left (at most ~2 s more): a browser's
 *  helpers can outlive it by a moment and write into its profile while the profile is removed. */
export async function killGroup(child: ChildProcess): Promise<void> {
  const exited =
    child.exitCode === null && child.signalCode === null
      ? new Promise((r) => child.once('exit', r))
      : null;
  const alive = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
      return true;
    } catch {
      return false; // ESRCH: no process left in the group
    }
  };
  alive();
  await exited;
  for (let i = 0; i < 40 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
}
