/** The `config:` keys: one descriptor each, the schema's keys exactly, and the merge reading its classes from it. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIG_KEY_MERGE, configKeysMerged } from '../../src/config/keys.js';
import { NODE_CONFIG_SCHEMA } from '../../src/config/schema.js';

function propertiesOf(schema: unknown, key: string): Record<string, unknown> {
  const properties = (schema as { properties?: Record<string, unknown> }).properties;
  const child = properties?.[key] as { properties?: Record<string, unknown> } | undefined;
  assert.ok(child?.properties, `the schema has no ${key} object`);
  return child.properties;
}

describe('config keys', () => {
  it("every key of the schema's config section has exactly one descriptor, and nothing else has one", () => {
    const schemaKeys = Object.keys(propertiesOf(NODE_CONFIG_SCHEMA, 'config')).sort();
    assert.deepEqual(Object.keys(CONFIG_KEY_MERGE).sort(), schemaKeys);
  });

  it('splits the keys into merge classes that do not overlap', () => {
    const classes = ['first', 'tri-state', 'flag', 'path-list', 'share', 'cgroups', 'capabilities', 'ignored'] as const;
    const all = classes.flatMap((merge) => configKeysMerged(merge));
    assert.equal(new Set(all).size, all.length);
    assert.equal(all.length, Object.keys(CONFIG_KEY_MERGE).length);
    assert.deepEqual(configKeysMerged('flag'), ['verbose', 'gpgcheck', 'unsafe', 'inherit-env', 'map-root-user']);
  });
});
