// Types of dist/src/config/schema-validators.js, the validators scripts/build-validators.mjs
// compiles from the schemas in schema.ts (ajv standalone code).
import type { ValidateFunction } from 'ajv';

export declare const config: ValidateFunction;
export declare const status: ValidateFunction;
