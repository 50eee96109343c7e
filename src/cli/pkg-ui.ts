/**
 * Terminal side of redwrap-dnf: the transaction table (as dnf prints it), the confirmation
 * prompt, and per-package progress with listr2 (plain lines when stdout is not a TTY).
 */
import { createInterface } from 'node:readline';
import { RedpakError } from '../errors.js';
import type {
  ListedPackage,
  PlannedPackage,
  RepoDetail,
  ProgressEvent,
  TransactionPlan,
  TransactionResult,
} from '../pkg/manager.js';
import { present } from '../present.js';

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes}`;
  const units = ['k', 'M', 'G', 'T'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** dnf's sections, in its order; a package goes in the first that matches. */
const SECTIONS: { title: string; matches: (p: PlannedPackage) => boolean }[] = [
  { title: 'Installing', matches: (p) => p.action === 'install' && p.reason !== 'dependency' },
  { title: 'Installing dependencies', matches: (p) => p.action === 'install' },
  { title: 'Installing (replacing)', matches: (p) => p.action === 'obsolete' },
  { title: 'Upgrading', matches: (p) => p.action === 'upgrade' },
  { title: 'Downgrading', matches: (p) => p.action === 'downgrade' },
  { title: 'Reinstalling', matches: (p) => p.action === 'reinstall' },
  { title: 'Removing', matches: (p) => p.action === 'erase' && p.reason !== 'unused' },
  { title: 'Removing unused dependencies', matches: (p) => p.action === 'erase' },
];
/** Per-package progress lines. */
const VERB: Record<PlannedPackage['action'], string> = {
  install: 'Installing',
  upgrade: 'Upgrading',
  downgrade: 'Downgrading',
  reinstall: 'Reinstalling',
  obsolete: 'Installing (replacing)',
  erase: 'Removing',
};
const SUMMARY: Record<PlannedPackage['action'], string> = {
  install: 'Install',
  upgrade: 'Upgrade',
  downgrade: 'Downgrade',
  reinstall: 'Reinstall',
  obsolete: 'Install',
  erase: 'Remove',
};

/** dnf's transaction table: package, arch, version, repository, size; then the summary. */
export function renderTransactionTable(plan: TransactionPlan): string {
  const header = ['Package', 'Arch', 'Version', 'Repository', 'Size'];
  const rows = plan.packages.map((p) => [
    p.name,
    p.arch,
    p.evr,
    p.repo,
    p.action === 'erase' ? '' : formatSize(p.size),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    ` ${cells.map((c, i) => (i === cells.length - 1 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ')}`;
  const rule = '='.repeat(widths.reduce((a, b) => a + b + 2, 0));
  const out = [`Node ${plan.alias} (${plan.node}):`, rule, line(header), rule];
  const placed = new Set<PlannedPackage>();
  for (const section of SECTIONS) {
    const group = plan.packages.filter((p) => !placed.has(p) && section.matches(p));
    if (group.length === 0) continue;
    out.push(`${section.title}:`);
    for (const p of group) {
      placed.add(p);
      out.push(line([p.name, p.arch, p.evr, p.repo, p.action === 'erase' ? '' : formatSize(p.size)]));
      for (const r of p.replaces) out.push(`     replacing  ${r}`);
    }
  }
  out.push('', 'Transaction Summary', rule);
  const counts = new Map<string, number>();
  for (const p of plan.packages) counts.set(SUMMARY[p.action], (counts.get(SUMMARY[p.action]) ?? 0) + 1);
  for (const [word, n] of counts) out.push(`${word.padEnd(10)}${n} Package${n === 1 ? '' : 's'}`);
  out.push('');
  if (plan.downloadSize > 0) out.push(`Total size: ${formatSize(plan.downloadSize)}`);
  return out.join('\n');
}

/** Ask "Is this ok [y/N]" on the terminal. Without a terminal, refuse with a hint. */
export async function askConfirmation(question = 'Is this ok [y/N]: '): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new RedpakError('usage', 'the transaction needs a confirmation and there is no terminal to ask', {
      hint: 'pass -y (--assumeyes) to proceed, or --assumeno to only show the plan',
    });
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
  output?: (text: string) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Progress display for one transaction: call `start(plan)` once confirmed, feed `onProgress`,
 * then `finish(error?)`. Downloads and installs are one task per package.
 */
export class TransactionProgress {
  private downloads = new Map<string, Deferred>();
  private applies = new Map<string, Deferred>();
  private run?: Promise<unknown>;

  constructor(private readonly options: { plain?: boolean; silent?: boolean } = {}) {}

  start(plan: TransactionPlan): void {
    if (this.options.silent) return;
    const incoming = plan.packages.filter((p) => p.action !== 'erase');
    for (const p of incoming) this.downloads.set(p.nevra, deferred());
    for (const p of plan.packages) this.applies.set(p.nevra, deferred());
    const taskFor = (title: string, d: Deferred) => ({
      title,
      task: async (_ctx: unknown, task: { output: string }) => {
        d.output = (text: string) => (task.output = text);
        await d.promise;
      },
    });
    const plain = this.options.plain ?? !process.stdout.isTTY;
    // listr2 is loaded only when a transaction runs: it costs every other command its start-up time.
    this.run = import('listr2')
      .then(({ Listr }) =>
        new Listr(
          [
            ...(incoming.length
              ? [
                  {
                    title: 'Downloading and checking packages',
                    task: (_: unknown, t: { newListr: (tasks: unknown[], o: object) => unknown }) =>
                      t.newListr(
                        incoming.map((p) =>
                          taskFor(p.nevra, present(this.downloads.get(p.nevra), `the download of ${p.nevra}`)),
                        ),
                        { concurrent: true },
                      ),
                  },
                ]
              : []),
            {
              title: 'Running transaction',
              task: (_: unknown, t: { newListr: (tasks: unknown[], o: object) => unknown }) =>
                t.newListr(
                  plan.packages.map((p) =>
                    taskFor(
                      `${VERB[p.action]} ${p.nevra}`,
                      present(this.applies.get(p.nevra), `the step of ${p.nevra}`),
                    ),
                  ),
                  { concurrent: true },
                ),
            },
          ] as never,
          // No SIGINT handler of listr2's own (it exits 127): the command's handler aborts the transaction.
          {
            renderer: plain ? 'simple' : 'default',
            fallbackRenderer: 'simple',
            exitOnError: true,
            registerSignalListeners: false,
            rendererOptions: { collapseSubtasks: false },
          } as never,
        ).run(),
      )
      .catch(() => undefined);
  }

  onProgress = (event: ProgressEvent): void => {
    switch (event.phase) {
      case 'download': {
        const d = this.downloads.get(event.nevra);
        if (d?.output && event.total) d.output(`${formatSize(event.done)} / ${formatSize(event.total)}`);
        break;
      }
      case 'downloaded':
        this.downloads.get(event.nevra)?.resolve();
        break;
      case 'applied':
        this.applies.get(event.nevra)?.resolve();
        break;
      default:
        break;
    }
  };

  async finish(error?: unknown): Promise<void> {
    const failure = error instanceof Error ? error : new Error(String(error ?? 'failed'));
    for (const d of [...this.downloads.values(), ...this.applies.values()]) {
      if (error) d.reject(failure);
      else d.resolve();
    }
    await this.run;
  }
}

/** One line per package after a transaction, as dnf ends. */
export function renderOutcome(result: TransactionResult): string {
  if (result.status === 'nothing-to-do') return 'Dependencies resolved.\nNothing to do.';
  if (result.status === 'cancelled') return 'Operation aborted: nothing was changed.';
  if (result.status === 'downloaded')
    return [
      ...(result.files ?? []).map((f) => f.path),
      'The downloadonly option is set: the node was not changed.',
    ].join('\n');
  const past: Record<PlannedPackage['action'], string> = {
    install: 'Installed',
    obsolete: 'Installed',
    upgrade: 'Upgraded',
    downgrade: 'Downgraded',
    reinstall: 'Reinstalled',
    erase: 'Removed',
  };
  const lines = result.packages.map((p) => `  ${past[p.action]}: ${p.nevra}`);
  return [...result.warnings.map((w) => `warning: ${w}`), ...lines, `Complete! (history id ${result.historyId})`].join(
    '\n',
  );
}

/** A package's details, one `Key         : value` line each, as dnf info prints them. */
export function infoLines(p: ListedPackage): string[] {
  const [version, release] = [p.evr.replace(/-[^-]*$/, ''), p.evr.replace(/^.*-/, '')];
  const size = p.size ?? p.installsize;
  const rows: [string, string | undefined][] = [
    ['Name', p.name],
    ['Version', version],
    ['Release', release],
    ['Architecture', p.arch],
    ['Size', size !== undefined ? formatSize(size) : undefined],
    ['Repository', p.repo],
    ['Node', p.node],
    ['Summary', p.summary],
    ['URL', p.url || undefined],
    ['License', p.license],
    ['Description', p.description],
  ];
  return rows.filter((row): row is [string, string] => row[1] !== undefined).map(([k, v]) => `${k.padEnd(13)}: ${v}`);
}

/** dnf's `repolist -v` / `repoinfo` block of one repository, one `Repo-key : value` line each. */
export function repoInfoLines(r: RepoDetail): string[] {
  const lines: [string, string | undefined][] = [
    ['Repo-id', r.id],
    ['Repo-name', r.name],
    ['Repo-status', r.enabled ? 'enabled' : 'disabled'],
    ['Repo-updated', r.updated],
    ['Repo-pkgs', r.packages?.toLocaleString('en-US')],
    ['Repo-size', r.size === undefined ? undefined : formatSize(r.size)],
    ['Repo-baseurl', r.baseurl.join(', ') || undefined],
    ['Repo-metalink', r.metalink],
    ['Repo-mirrors', r.mirrorlist],
    ['Repo-gpgcheck', r.gpgcheck ? 'yes' : 'no'],
    ['Repo-priority', String(r.priority)],
    ['Repo-cost', String(r.cost)],
    ['Repo-exclude', r.excludepkgs.join(', ') || undefined],
    ['Repo-include', r.includepkgs.join(', ') || undefined],
    ['Repo-skip-if-unavailable', r.skipIfUnavailable ? 'yes' : 'no'],
    [
      'Repo-expire',
      `${r.metadataExpire === null ? 'never' : `${r.metadataExpire} second(s)`}${r.fetchedAt ? ` (last: ${r.fetchedAt})` : ''}`,
    ],
    ['Repo-filename', r.file],
    ['Repo-node', r.definedBy],
  ];
  return lines.filter((l): l is [string, string] => l[1] !== undefined).map(([k, v]) => `${k.padEnd(25)}: ${v}`);
}
