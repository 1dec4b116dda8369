// A module Web Worker's side of web/worker_client.js: each message is handled after the one
// before it has been answered (in order), and answered with the same id — the handler's
// result, or {type: 'error', message} when it throws.
export function answerInOrder(handle) {
  let chain = Promise.resolve();
  self.onmessage = (e) => {
    const m = e.data;
    chain = chain.then(
      () =>
        handle(m).then(
          (r) => self.postMessage({ id: m.id, ...r }),
          (err) =>
            self.postMessage({ id: m.id, type: 'error', message: err?.message ?? String(err) }),
        ),
      () => {},
    );
  };
}
