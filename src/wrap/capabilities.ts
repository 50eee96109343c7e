/** Capability names bwrap accepts (docs/configuration.md, "Capabilities"), checked before anything runs. */
import { RedpakError } from '../errors.js';
import type { MergedCapability } from '../merge/types.js';

export const CAPABILITY_NAMES = [
  'cap_chown',
  'cap_dac_override',
  'cap_dac_read_search',
  'cap_fowner',
  'cap_fsetid',
  'cap_kill',
  'cap_setgid',
  'cap_setuid',
  'cap_setpcap',
  'cap_linux_immutable',
  'cap_net_bind_service',
  'cap_net_broadcast',
  'cap_net_admin',
  'cap_net_raw',
  'cap_ipc_lock',
  'cap_ipc_owner',
  'cap_sys_module',
  'cap_sys_rawio',
  'cap_sys_chroot',
  'cap_sys_ptrace',
  'cap_sys_pacct',
  'cap_sys_admin',
  'cap_sys_boot',
  'cap_sys_nice',
  'cap_sys_resource',
  'cap_sys_time',
  'cap_sys_tty_config',
  'cap_mknod',
  'cap_lease',
  'cap_audit_write',
  'cap_audit_control',
  'cap_setfcap',
  'cap_mac_override',
  'cap_mac_admin',
  'cap_syslog',
  'cap_wake_alarm',
  'cap_block_suspend',
  'cap_audit_read',
  'cap_perfmon',
  'cap_bpf',
  'cap_checkpoint_restore',
] as const;

const KNOWN = new Set<string>([...CAPABILITY_NAMES, 'all']);

export function assertKnownCapabilities(capabilities: MergedCapability[]): void {
  for (const { value, origin } of capabilities) {
    const name = value.cap.toLowerCase();
    if (!KNOWN.has(name) && !KNOWN.has(`cap_${name}`)) {
      throw new RedpakError('launch', `unknown capability "${value.cap}" in ${origin.alias} (${origin.node})`, {
        at: origin.at,
        hint: 'use a name such as cap_net_raw, or ALL',
      });
    }
  }
}
