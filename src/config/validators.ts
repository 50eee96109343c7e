/**
 * The node-file validators, compiled from the schemas of schema.ts at build time into plain code
 * (scripts/build-validators.mjs writes dist/src/config/schema-validators.js with ajv's standalone
 * code): compiling them with ajv at every start would cost each command about 100 ms.
 */
import * as compiled from './schema-validators.js';
import type { Validators } from './schema.js';

export function validators(): Validators {
  return compiled;
}
