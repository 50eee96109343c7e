#!/usr/bin/env node
// Compiles the node-file schemas into plain code (ajv standalone), so that no command pays for
// compiling them at start-up: dist/src/config/schema-validators.js. Run after tsc.
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { writeFileSync } from 'node:fs';
import { AJV_OPTIONS, NODE_CONFIG_SCHEMA, NODE_STATUS_SCHEMA } from '../dist/src/config/schema.js';

const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true } });
ajv.addSchema(NODE_CONFIG_SCHEMA, 'config').addSchema(NODE_STATUS_SCHEMA, 'status');
writeFileSync(new URL('../dist/src/config/schema-validators.js', import.meta.url), standaloneCode.default ? standaloneCode.default(ajv, { config: 'config', status: 'status' }) : standaloneCode(ajv, { config: 'config', status: 'status' }));
