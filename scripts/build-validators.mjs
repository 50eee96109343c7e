#!/usr/bin/env node
// Compiles the JSON Schemas into plain code (ajv standalone), so that no command pays for
// compiling them at start-up. Run after tsc.
// - the node-file schemas: dist/src/config/schema-validators.js;
// - the solver protocol's schemas (src/pkg/redsolver/schema/, read by the Python side too):
//   dist/src/pkg/solver-validators.js, one validator per file named after it ("solve.request"…),
//   plus `schemaSources`, each validator's file and the SHA-256 of the bytes it was compiled from.
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { AJV_OPTIONS, NODE_CONFIG_SCHEMA, NODE_STATUS_SCHEMA } from '../dist/src/config/schema.js';

const standalone = standaloneCode.default ?? standaloneCode;

const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true } });
ajv.addSchema(NODE_CONFIG_SCHEMA, 'config').addSchema(NODE_STATUS_SCHEMA, 'status');
writeFileSync(
  new URL('../dist/src/config/schema-validators.js', import.meta.url),
  standalone(ajv, { config: 'config', status: 'status' }),
);

const protocolDir = 'src/pkg/redsolver/schema';
const solverAjv = new Ajv({ allErrors: false, strict: true, code: { source: true, esm: true } });
const validators = {};
const sources = {};
const schemaFiles = readdirSync(new URL(`../${protocolDir}`, import.meta.url)).filter((f) =>
  f.endsWith('.schema.json'),
);
for (const file of schemaFiles.sort()) {
  const bytes = readFileSync(new URL(`../${protocolDir}/${file}`, import.meta.url));
  const name = file.slice(0, -'.schema.json'.length);
  solverAjv.addSchema(JSON.parse(bytes.toString('utf8')), name);
  validators[name.replace('.', '_')] = name;
  sources[name] = { file: `${protocolDir}/${file}`, sha256: createHash('sha256').update(bytes).digest('hex') };
}
writeFileSync(
  new URL('../dist/src/pkg/solver-validators.js', import.meta.url),
  `${standalone(solverAjv, validators)}\nexport const schemaSources = ${JSON.stringify(sources)};\n`,
);
