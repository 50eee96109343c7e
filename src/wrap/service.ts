/**
 * `redmanager service`: a systemd unit that runs a program in a node with redwrap
 * (system/systemd-unit.ts has the unit itself). The node is loaded first, so a unit is never
 * written for a directory that is not a node or is disabled.
 */
import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RedpakError } from '../errors.js';
import { assertEnabled, loadFamily } from '../node/load.js';
import { PACKAGE_ROOT } from '../package-root.js';
import {
  enableUnit,
  serviceName,
  systemdRunning,
  unitDirectory,
  unitText,
  writeUnit,
  type RestartPolicy,
  type ServiceUnit,
} from '../system/systemd-unit.js';

export interface ServiceRequest {
  redpath: string;
  command: string[];
  name?: string;
  admin?: boolean;
  user: boolean;
  restart: RestartPolicy;
  install: boolean;
  /** Where to write the unit instead of systemd's directory (for a unit that is only looked at). */
  directory?: string;
}

/** `redmanager service --json` (docs/json-output.md). */
export interface ServiceResult {
  /** The unit's name, with .service. */
  name: string;
  file: string;
  node: string;
  alias: string;
  user: boolean;
  /** Enabled and started with systemctl (--install). */
  installed: boolean;
  unit: string;
}

/** The installed redwrap (the fast launcher, which hands over to the full CLI). */
const REDWRAP = join(PACKAGE_ROOT, 'bin', 'redwrap');

export function createService(request: ServiceRequest): ServiceResult {
  if (!request.command.length)
    throw new RedpakError('usage', 'no program to run', {
      hint: 'give it after --: redmanager service --redpath NODE -- /usr/bin/app',
    });
  const family = loadFamily(request.redpath, { admin: request.admin ?? false });
  assertEnabled(family);
  const leaf = family.nodes[0];
  const node = realpathSync(resolve(leaf.hostPath));
  const unit: ServiceUnit = {
    name: serviceName(request.name ?? `redpak-${leaf.alias}`),
    description: `${request.command.join(' ')} in redpak node ${leaf.alias} (${node})`,
    execStart: [REDWRAP, '--redpath', node, ...(request.admin ? ['--admin'] : []), '--', ...request.command],
    restart: request.restart,
    user: request.user,
  };
  // Refused before anything is written: a unit nobody can enable here is not what was asked for.
  if (request.install && !systemdRunning())
    throw new RedpakError(
      'tool-missing',
      `cannot install ${unit.name}: systemd is not running on this system (no /run/systemd/system)`,
      {
        hint: 'without --install the unit is only written; copy it to a systemd host and run systemctl enable --now',
      },
    );
  const file = writeUnit(unit, request.directory ?? unitDirectory(request.user));
  if (request.install) enableUnit(unit);
  return {
    name: unit.name,
    file,
    node,
    alias: leaf.alias,
    user: request.user,
    installed: Boolean(request.install),
    unit: unitText(unit),
  };
}
