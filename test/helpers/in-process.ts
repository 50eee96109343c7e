/**
 * The executables' commands run inside the test process: the same bundle (dist/cli/BIN.cjs) and
 * entry point (`main`, src/cli/run.ts) that bin/BIN starts, without a process per assertion.
 * Gives what `runBin` gives: the exit status, stdout, stderr, and the --json document.
 *
 * A run changes process-wide state the way a process of its own would see it, and puts it back:
 * - the bundle is evaluated afresh for each run (compiled once), so module state (oclif's config
 *   cache, the library's memos) never carries over;
 * - stdout and stderr are captured for the code running in the command's asynchronous context only
 *   (AsyncLocalStorage), so that the test runner's own output is never mixed in;
 * - `process.exit` ends the run with that status: nothing written after it is kept, as nothing
 *   would have been; `exit` listeners the command added run then, as at a process's end;
 * - env, cwd, argv, exitCode, listeners added to process and its streams, and the terminal flags
 *   and widths (a run sees pipes and no terminal, as `runBin`'s child does) are restored afterwards.
 * One command at a time: the state it changes is the process's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { inspect } from 'node:util';
import { constants, Script } from 'node:vm';
import { PACKAGE_ROOT, type BinRun } from './cli.js';

export type Executable = 'redmanager' | 'redwrap-dnf' | 'redwrap';

export interface RunOptions {
  /** The current directory of the command (default: the package root, as `runBin`). */
  cwd?: string;
  /** Variables set over the test process's environment for this run. */
  env?: Record<string, string>;
}

/** Node's CommonJS loader internals used to evaluate a bundle as an ordinary module (as src/cli/start.cts does). */
interface ModuleInternals {
  _cache: Record<string, Module | undefined>;
  _nodeModulePaths(dir: string): string[];
  wrap(source: string): string;
}
const internals = Module as unknown as ModuleInternals;

/** What a command wrote, until it ended. */
interface Capture {
  stdout: string;
  stderr: string;
  decoders: { stdout: StringDecoder; stderr: StringDecoder };
  /** The status given to process.exit, once it was called. */
  exited?: number;
  /** Whether output is dropped: after process.exit, but for the `exit` listeners. */
  closed: boolean;
}

const current = new AsyncLocalStorage<Capture>();

/** Thrown by the stand-in for process.exit, to unwind the command as the real exit would stop it. */
class ProcessExit extends Error {
  constructor(readonly status: number) {
    super(`process.exit(${status})`);
  }
}

const scripts = new Map<Executable, Script>();

/** The bundle of an executable, compiled once per test process. */
function bundleScript(bin: Executable): { script: Script; file: string } {
  const file = join(PACKAGE_ROOT, 'dist', 'cli', `${bin}.cjs`);
  let script = scripts.get(bin);
  if (!script) {
    script = new Script(internals.wrap(readFileSync(file, 'utf8')), {
      filename: file,
      importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    scripts.set(bin, script);
  }
  return { script, file };
}

/** A fresh instance of the bundle, registered where oclif's `require` of its command list finds it. */
function loadBundle(bin: Executable): { main(argv: string[]): Promise<void> } {
  const { script, file } = bundleScript(bin);
  const bundle = new Module(file);
  bundle.filename = file;
  bundle.paths = internals._nodeModulePaths(dirname(file));
  internals._cache[file] = bundle;
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(bundle.exports, bundle.exports, createRequire(file), bundle, file, dirname(file));
  bundle.loaded = true;
  return bundle.exports as { main(argv: string[]): Promise<void> };
}

type StreamName = 'stdout' | 'stderr';
type WriteCallback = (error?: Error | null) => void;

/** The stream's write, sending what the running command writes to its capture. */
function capturingWrite(name: StreamName, original: NodeJS.WriteStream['write']): NodeJS.WriteStream['write'] {
  return function write(this: NodeJS.WriteStream, ...args: unknown[]): boolean {
    const capture = current.getStore();
    if (!capture) return Reflect.apply(original, this, args) as boolean;
    const [chunk, encoding, callback] = args;
    if (!capture.closed) {
      capture[name] +=
        typeof chunk === 'string' ? chunk : capture.decoders[name].write(Buffer.from(chunk as Uint8Array));
    }
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') process.nextTick(done as WriteCallback);
    return true;
  } as NodeJS.WriteStream['write'];
}

/** Listeners of an emitter, by event, to remove afterwards the ones a run added. */
type Listener = (...args: unknown[]) => unknown;
type Listeners = Map<string | symbol, Listener[]>;
const emitters = (): NodeJS.EventEmitter[] => [process, process.stdout, process.stderr, process.stdin];

function listenersOf(emitter: NodeJS.EventEmitter): Listeners {
  return new Map(emitter.eventNames().map((event) => [event, emitter.rawListeners(event) as Listener[]]));
}

function addedListeners(emitter: NodeJS.EventEmitter, before: Listeners, event: string | symbol): Listener[] {
  const kept = before.get(event) ?? [];
  return (emitter.rawListeners(event) as Listener[]).filter((listener) => !kept.includes(listener));
}

/** Sets a property for the run; the returned function puts the original back. */
function override<T extends object>(target: T, key: PropertyKey, value: unknown): () => void {
  const own = Object.getOwnPropertyDescriptor(target, key);
  const enumerable = own?.enumerable ?? true;
  Object.defineProperty(target, key, { value, configurable: true, writable: true, enumerable });
  return () => {
    if (own) Object.defineProperty(target, key, own);
    else Reflect.deleteProperty(target, key);
  };
}

function restoreEnv(saved: NodeJS.ProcessEnv): void {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  for (const [key, value] of Object.entries(saved)) if (process.env[key] !== value) process.env[key] = value;
}

/** Where signal-exit keeps its state on process. */
const SIGNAL_EXIT = '__signal_exit_emitter__';

let running = false;

/** Runs `bin ARGS…` as bin/BIN would, inside this process; same result shape as `runBin`. */
export async function runCommand(bin: Executable, args: string[], options: RunOptions = {}): Promise<BinRun> {
  if (running) throw new Error('runCommand runs one command at a time: it changes process-wide state');
  running = true;
  const savedEnv = { ...process.env };
  const savedCwd = process.cwd();
  const savedArgv = process.argv;
  const savedExitCode = process.exitCode;
  const savedListeners = emitters().map(listenersOf);
  const capture: Capture = {
    stdout: '',
    stderr: '',
    decoders: { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') },
    closed: false,
  };
  const restores = [
    // Patched by signal-exit when a command loads it; a process of its own would not keep them.
    override(process, 'emit', process.emit),
    override(process, 'reallyExit', (process as unknown as { reallyExit: unknown }).reallyExit),
    override(process, SIGNAL_EXIT, (process as unknown as Record<string, unknown>)[SIGNAL_EXIT]),
    override(process.stdout, 'write', capturingWrite('stdout', process.stdout.write)),
    override(process.stderr, 'write', capturingWrite('stderr', process.stderr.write)),
    // runBin's child has pipes and no terminal: so has a command run here.
    override(process.stdout, 'isTTY', undefined),
    override(process.stderr, 'isTTY', undefined),
    override(process.stdin, 'isTTY', undefined),
    override(process.stdout, 'columns', undefined),
    override(process.stderr, 'columns', undefined),
    override(process, 'exit', (code?: number | string | null): never => {
      const status = Number(code ?? process.exitCode ?? 0);
      const capture = current.getStore();
      if (capture && capture.exited === undefined) {
        capture.exited = status;
        capture.closed = true;
      }
      throw new ProcessExit(status);
    }),
  ];
  const savedBundle = internals._cache[join(PACKAGE_ROOT, 'dist', 'cli', `${bin}.cjs`)];
  try {
    for (const [key, value] of Object.entries(options.env ?? {})) process.env[key] = value;
    process.chdir(options.cwd ?? PACKAGE_ROOT);
    process.exitCode = undefined;
    await current.run(capture, async () => {
      try {
        await loadBundle(bin).main(args);
      } catch (error) {
        // As src/cli/start.cts reports what escapes the command.
        if (!(error instanceof ProcessExit)) {
          if (!capture.closed) capture.stderr += `${inspect(error)}\n`;
          process.exitCode = 1;
        }
      }
      const status = capture.exited ?? Number(process.exitCode ?? 0);
      // A process's end: its `exit` listeners run, and see its status.
      capture.closed = false;
      for (const listener of addedListeners(process, savedListeners[0], 'exit')) {
        try {
          listener(status);
        } catch (error) {
          if (!(error instanceof ProcessExit)) throw error;
        }
      }
      capture.exited ??= status;
      capture.closed = true;
    });
  } finally {
    emitters().forEach((emitter, i) => {
      for (const event of emitter.eventNames()) {
        for (const listener of addedListeners(emitter, savedListeners[i], event)) {
          emitter.removeListener(event, listener);
        }
      }
    });
    for (const restore of restores.reverse()) restore();
    const file = join(PACKAGE_ROOT, 'dist', 'cli', `${bin}.cjs`);
    if (savedBundle) internals._cache[file] = savedBundle;
    else delete internals._cache[file];
    process.chdir(savedCwd);
    process.argv = savedArgv;
    process.exitCode = savedExitCode;
    restoreEnv(savedEnv);
    running = false;
  }
  const stdout = capture.stdout + capture.decoders.stdout.end();
  const stderr = capture.stderr + capture.decoders.stderr.end();
  let json: unknown;
  if (args.includes('--json')) {
    try {
      json = JSON.parse(stdout);
    } catch {
      json = undefined;
    }
  }
  return { status: capture.exited ?? 0, stdout, stderr, json };
}
