/**
 * `check` proves each node can launch: what bwrap or the host would refuse in the compiled launch
 * plan is a `config` finding, with the file and line at fault. The host is given as a HostView,
 * so each refusal is planted deterministically; one case reads this host.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkTree, CHECK_EXIT_CODES } from '../../src/audit/check.js';
import { liveHostView, parseCpuList, type HostView } from '../../src/audit/launch-proof.js';
import { RedpakError } from '../../src/errors.js';
import { createNode } from '../../src/node/factory.js';
import { pinnedHost, tempDir } from '../helpers/family.js';

const host = pinnedHost();

/** A host that offers everything. */
const generous = (): HostView => ({
  capBounding: (1n << 41n) - 1n,
  namespaces: new Set(['user', 'cgroup', 'time', 'ipc', 'mnt', 'net', 'pid', 'uts']),
  userNamespaces: true,
  cpus: new Set([0, 1, 2, 3]),
  cgroupPlan: () => ({ version: 'v2', steps: [], warnings: [], leaves: [], chains: [] }),
  lookupUser: () => undefined,
  lookupGroup: () => undefined,
});

function tree(dir: string, sysroot?: string): { system: string; app: string; appHost: string } {
  const base = sysroot ? '/var/redpak' : join(dir, 'redpak');
  createNode({ redpath: `${base}/app`, sysroot, host });
  return { system: base, app: `${base}/app`, appHost: sysroot ? join(sysroot, base, 'app') : `${base}/app` };
}

/** Adds lines under `config:` and exports of the app's normal file; returns the file. */
function edit(appHost: string, options: { config?: string[]; exports?: string[] }): string {
  const file = join(appHost, 'etc/redpak.yaml');
  let text = readFileSync(file, 'utf8');
  if (options.config) text = text.replace(/^config:\n/m, `config:\n${options.config.map((l) => `  ${l}\n`).join('')}`);
  if (options.exports)
    text = text.replace(/^exports:\n/m, `exports:\n${options.exports.map((l) => `${l}\n`).join('')}`);
  writeFileSync(file, text);
  return file;
}

const lineOf = (file: string, needle: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(needle)) + 1;

async function launchFindings(root: string, view: HostView, sysroot?: string) {
  const result = await checkTree({
    redroot: root,
    sysroot,
    host,
    packages: false,
    files: false,
    cgroups: false,
    hostView: view,
  });
  return {
    result,
    findings: result.findings.map((f) => ({
      rule: f.rule,
      node: f.node,
      line: f.at?.line,
      message: f.message,
      mode: f.mode,
    })),
  };
}

describe('check proves each node can launch', () => {
  it('finds nothing on a family the host can launch', async (t) => {
    const dir = tempDir(t);
    const { system } = tree(dir);
    const { result } = await launchFindings(system, generous());
    assert.deepEqual(result.findings, []);
  });

  it('an export source that cannot be created (a file on its way) is found, with its line', async (t) => {
    const dir = tempDir(t);
    const { system, app, appHost } = tree(dir);
    writeFileSync(join(appHost, 'afile'), 'not a directory\n');
    const file = edit(appHost, { exports: ['- mode: Private', '  mount: /opt/data', '  path: $NODE_PATH/afile/data'] });
    const { result, findings } = await launchFindings(system, generous());
    assert.equal(result.exitCode, CHECK_EXIT_CODES.config);
    assert.deepEqual(
      findings.map((f) => [f.rule, f.node, f.line]),
      [['export-source', app, lineOf(file, 'mode: Private')]],
    );
    assert.match(
      findings[0]!.message,
      new RegExp(`export source ${app}/afile/data of app cannot be created: ${app}/afile is not a directory`),
    );
  });

  it('a relative export source is refused, naming the export and its line', async (t) => {
    const dir = tempDir(t);
    const { system, app, appHost } = tree(dir);
    const file = edit(appHost, { exports: ['- mode: Private', '  mount: /opt/data', '  path: relative/data'] });
    const { findings } = await launchFindings(system, generous());
    assert.deepEqual(
      findings.map((f) => [f.rule, f.node, f.line]),
      [['launch', app, lineOf(file, 'mode: Private')]],
    );
    assert.match(
      findings[0]!.message,
      /export \/opt\/data of app .* has a relative source "relative\/data".*must be absolute/,
    );
  });

  it('what the host lacks: user namespaces, a capability outside the bounding set, a user, cgroup controllers, CPUs', async (t) => {
    const dir = tempDir(t);
    const { system, app, appHost } = tree(dir);
    // The system template drops every capability: the family grants cap_net_raw there, so that app may add it.
    const systemFile = join(dir, 'redpak/etc/redpak.yaml');
    writeFileSync(
      systemFile,
      readFileSync(systemFile, 'utf8').replace(
        /( +)- cap: ALL\n( +)add: 0\n/,
        '$1- cap: ALL\n$2add: 0\n$1- cap: cap_net_raw\n$2add: 1\n',
      ),
    );
    const file = edit(appHost, {
      config: [
        'share_user: disabled',
        'set-user: no-such-user-redpak',
        'capabilities:',
        '  - cap: cap_net_raw',
        '    add: 1',
        'cgroups:',
        '  cpuset:',
        '    cpus: "0-7"',
      ],
    });
    const view: HostView = {
      ...generous(),
      userNamespaces: false,
      capBounding: 0n,
      lookupUser: (name) => {
        throw new RedpakError('launch', `no user ${name}`);
      },
      cgroupPlan: () => {
        throw new RedpakError(
          'launch',
          'cgroups cannot be applied on this host (node app: cgroups.cpuset.cpus): cgroup v1: hierarchy not mounted: cpuset',
        );
      },
    };
    const { findings } = await launchFindings(system, view);
    // The system node's own launch also unshares the user namespace (share_all: disabled).
    assert.ok(findings.some((f) => f.rule === 'namespace' && f.node === system && !f.mode));
    const normal = findings.filter((f) => !f.mode && f.node === app);
    assert.deepEqual(
      normal.map((f) => [f.rule, f.node, f.line]).sort(),
      [
        ['capability', app, lineOf(file, '- cap: cap_net_raw')],
        ['cgroups-host', app, lineOf(file, 'cgroups:')],
        ['cgroups-host', app, lineOf(file, 'cgroups:')],
        ['namespace', app, lineOf(file, 'share_user: disabled')],
        ['user', app, lineOf(file, 'set-user:')],
      ].sort(),
    );
    const messages = normal.map((f) => f.message).join('\n');
    assert.match(messages, /cannot create user namespaces/);
    assert.match(messages, /cap_net_raw of app is not in this host's bounding set/);
    assert.match(messages, /set-user "no-such-user-redpak" of app: no user/);
    assert.match(messages, /cpuset\.cpus "0-7" of app names CPUs this host does not have \(4, 5, 6, 7\)/);
  });

  it('in a sysroot only the export sources are checked (the host is not the target)', async (t) => {
    const image = tempDir(t);
    const { system, app, appHost } = tree(image, image);
    writeFileSync(join(appHost, 'afile'), '');
    edit(appHost, {
      config: ['set-user: no-such-user-redpak'],
      exports: ['- mode: Private', '  mount: /opt/data', '  path: $NODE_PATH/afile/data'],
    });
    const view: HostView = {
      ...generous(),
      lookupUser: () => {
        throw new RedpakError('launch', 'no user');
      },
    };
    const { findings } = await launchFindings(system, view, image);
    assert.deepEqual(
      findings.map((f) => [f.rule, f.node]),
      [['export-source', app]],
    );
  });

  it('reads this host: its CPUs and namespaces', () => {
    const view = liveHostView();
    assert.ok(view.namespaces.has('mnt'));
    assert.ok(view.cpus?.has(0));
    assert.deepEqual([...parseCpuList('0-2,5')!], [0, 1, 2, 5]);
    assert.equal(parseCpuList('x'), undefined);
  });
});
