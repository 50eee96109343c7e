// Types of dist/src/pkg/solver-validators.js, which scripts/build-validators.mjs compiles from the
// solver protocol's schemas (src/pkg/redsolver/schema/*.schema.json, ajv standalone code).
import type { ValidateFunction } from 'ajv';
import type { SolverAnswer } from './solver.js';

export declare const solve_request: ValidateFunction;
export declare const query_request: ValidateFunction;
export declare const check_request: ValidateFunction;
export declare const audit_request: ValidateFunction;
export declare const why_request: ValidateFunction;
export declare const solve_answer: ValidateFunction<SolverAnswer<'solve'>>;
export declare const query_answer: ValidateFunction<SolverAnswer<'query'>>;
export declare const check_answer: ValidateFunction<SolverAnswer<'check'>>;
export declare const audit_answer: ValidateFunction<SolverAnswer<'audit'>>;
export declare const why_answer: ValidateFunction<SolverAnswer<'why'>>;
export declare const error_answer: ValidateFunction<{ protocol: number; ok: false; error: string }>;
/** Each validator's schema file (relative to the package root) and the SHA-256 of the bytes compiled. */
export declare const schemaSources: Record<string, { file: string; sha256: string }>;
