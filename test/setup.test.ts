// The set-up script: non-root users with a missing Debian package get the exact install command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;

test(
  'setup as non-root with libtorch-dev missing prints the apt-get command',
  { skip: !isRoot && 'needs root to run as nobody' },
  () => {
    // A dpkg-query shim that reports libtorch-dev as not installed and defers to the real one otherwise.
    const shimDir = mkdtempSync(join(tmpdir(), 'eflip-shim-'));
    try {
      const shim = join(shimDir, 'dpkg-query');
      writeFileSync(
        shim,
        '#!/bin/sh\nfor a in "$@"; do [ "$a" = libtorch-dev ] && exit 1; done\nexec /usr/bin/dpkg-query "$@"\n',
      );
      chmodSync(shim, 0o755);
      chmodSync(shimDir, 0o755);
      const r = spawnSync(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          'bash',
          join(root, 'scripts/setup.sh'),
        ],
        {
          encoding: 'utf8',
          env: { PATH: `${shimDir}:/usr/bin:/bin`, HOME: '/tmp' },
        },
      );
      assert.equal(r.status, 1, `expected exit 1, got ${r.status}: ${r.stderr}`);
      assert.match(r.stderr, /missing Debian packages: libtorch-dev/);
      assert.match(
        r.stderr,
        /sudo apt-get update && sudo apt-get install -y --no-install-recommends libtorch-dev/,
      );
    } finally {
      rmSync(shimDir, { recursive: true, force: true });
    }
  },
);

test('a second setup run does nothing', () => {
  const r = spawnSync('bash', [join(root, 'scripts/setup.sh')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(
    r.stderr,
    /\[setup\] (npm ci|building|compiling|installing)/,
    'nothing to do on a second run',
  );
});
