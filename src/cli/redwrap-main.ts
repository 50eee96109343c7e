/** The full redwrap CLI, run by bin/redwrap and by the fast launcher when it cannot serve a launch. */
import { runExecutable } from './run.js';

await runExecutable('redwrap', process.argv.slice(2));
