/** Host path ↔ target path, in one place: Sysroot.toHost and Sysroot.toTarget. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sysroot } from '../../src/node/layout.js';

describe('Sysroot paths', () => {
  it('maps target paths to host paths and back', () => {
    const image = new Sysroot('/img');
    for (const target of ['/', '/var/redpak', '/var/redpak/app']) {
      assert.equal(image.toTarget(image.toHost(target)), target);
    }
    assert.equal(image.toTarget('/img'), '/');
  });

  it('keeps a host path outside the sysroot, even one sharing its prefix', () => {
    const image = new Sysroot('/img');
    assert.equal(image.toTarget('/img2/var'), '/img2/var');
    assert.equal(image.toTarget('/usr'), '/usr');
  });

  it('on the running system both are the same', () => {
    assert.equal(new Sysroot('/').toTarget('/var/redpak'), '/var/redpak');
  });
});
