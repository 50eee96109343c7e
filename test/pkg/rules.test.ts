import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { assertNoAncestorDuplicates, assertNodeOwns, findAncestorOwner, findFamilyDuplicates, type NodePackages } from '../../src/pkg/rules.js';

const pkg = (nevra: string) => ({ name: nevra.replace(/-[^-]+-[^-]+$/, ''), nevra });
const P: NodePackages = { node: '/nodes/P', packages: [pkg('libredfoo-1.0-1.x86_64'), pkg('redfoo-conf-1.0-1.noarch')] };
const M: NodePackages = { node: '/nodes/M', packages: [pkg('redtool-1.0-1.noarch'), pkg('libredfoo-2.0-1.x86_64')] };
const C: NodePackages = { node: '/nodes/C', packages: [pkg('redhello-1.0-1.x86_64')] };

const familyRule = (pattern: RegExp) => (e: unknown) => e instanceof RedpakError && e.code === 'family-rule' && pattern.test(e.message);

describe('findAncestorOwner', () => {
  it('returns the closest ancestor holding the name', () => {
    assert.deepEqual(findAncestorOwner('libredfoo', [M, P]), { name: 'libredfoo', nevra: 'libredfoo-2.0-1.x86_64', node: '/nodes/M' });
    assert.deepEqual(findAncestorOwner('redfoo-conf', [M, P])?.node, '/nodes/P');
    assert.equal(findAncestorOwner('redhello', [M, P]), undefined);
  });
});

describe('assertNoAncestorDuplicates', () => {
  it('refuses a name an ancestor has, naming package, version and ancestor', () => {
    assert.throws(() => assertNoAncestorDuplicates('/nodes/C', ['redhello', 'redfoo-conf'], [M, P]), familyRule(/redfoo-conf \(already installed in ancestor node \/nodes\/P as redfoo-conf-1\.0-1\.noarch\)/));
  });

  it('accepts new names, and anything with forcenode', () => {
    assert.doesNotThrow(() => assertNoAncestorDuplicates('/nodes/C', ['redcompat'], [M, P]));
    assert.doesNotThrow(() => assertNoAncestorDuplicates('/nodes/C', ['libredfoo'], [M, P], true));
  });
});

describe('assertNodeOwns', () => {
  it('refuses to act on a package only an ancestor has', () => {
    assert.throws(() => assertNodeOwns('/nodes/C', 'erase', ['libredfoo'], C, [M, P]), familyRule(/cannot erase libredfoo-2\.0-1\.x86_64 from node \/nodes\/C: it belongs to ancestor node \/nodes\/M/));
  });

  it('accepts the node\'s own packages and reports unknown ones as package errors', () => {
    assert.doesNotThrow(() => assertNodeOwns('/nodes/C', 'erase', ['redhello'], C, [M, P]));
    assert.throws(() => assertNodeOwns('/nodes/C', 'erase', ['nothere'], C, [M, P]), (e: unknown) => e instanceof RedpakError && e.code === 'package' && /nothere/.test(e.message));
  });
});

describe('findFamilyDuplicates', () => {
  it('lists names held by several nodes of a chain, leaf first', () => {
    assert.deepEqual(findFamilyDuplicates([C, M, P]), [
      { name: 'libredfoo', holders: [{ node: '/nodes/M', nevra: 'libredfoo-2.0-1.x86_64' }, { node: '/nodes/P', nevra: 'libredfoo-1.0-1.x86_64' }] },
    ]);
    assert.deepEqual(findFamilyDuplicates([C, P]), []);
  });
});
