/**
 * The validators compiled at build time (ajv standalone code) give the same verdicts as ajv
 * compiling the schemas directly.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { AJV_OPTIONS, NODE_CONFIG_SCHEMA, NODE_STATUS_SCHEMA } from '../../src/config/schema.js';
import { validators } from '../../src/config/validators.js';

const configs: [unknown, boolean][] = [
  [{ headers: { alias: 'a' } }, true],
  [{ headers: { alias: 'a' }, exports: [{ mode: 'pUbLiC', mount: '/x' }] }, true],
  [{ headers: { alias: 'a' }, exports: [{ mode: 'Publicc', mount: '/x' }] }, false],
  [{ headers: { alias: 'a' }, config: { gpgcheck: 'Yes', verbose: '+3', 'die-with-parent': 'ENABLED' } }, true],
  [{ headers: { alias: 'a' }, config: { gpgcheck: 'maybe' } }, false],
  [{ headers: { alias: 'a' }, config: { verbose: '0x10' } }, false],
  [{ headers: {} }, false],
  [{ headers: { alias: 'a' }, bogus: '1' }, false],
];
const statuses: [unknown, boolean][] = [
  [{ realpath: '/n', timestamp: '1', state: 'Enable' }, true],
  [{ realpath: '/n', timestamp: '1', state: 'enable' }, false],
];

describe('schema validators', () => {
  it('the build-time code agrees with a run-time compilation', () => {
    const ajv = new Ajv(AJV_OPTIONS);
    const runtime = { config: ajv.compile(NODE_CONFIG_SCHEMA), status: ajv.compile(NODE_STATUS_SCHEMA) };
    const built = validators();
    assert.notEqual(built.config, runtime.config);
    for (const [doc, valid] of configs) {
      assert.equal(built.config(doc), valid, JSON.stringify(doc));
      assert.equal(runtime.config(doc), valid, JSON.stringify(doc));
    }
    for (const [doc, valid] of statuses) {
      assert.equal(built.status(doc), valid, JSON.stringify(doc));
      assert.equal(runtime.status(doc), valid, JSON.stringify(doc));
    }
  });
});
