/**
 * The shipped templates, but for a family of unsigned packages: the system template's
 * `gpgcheck: true` (a floor no .repo file lowers) set to false, as the administrator of such a
 * family writes it. For recipes, whose system node apply creates from the templates.
 */
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_TEMPLATE_DIR } from '../../src/node/factory.js';
import { acceptUnsignedPackages } from '../../src/pkg/node-setup.js';

let made: string | undefined;

/** A directory of templates (made once per test process, in the temp directory). */
export function unsignedTemplateDir(): string {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), 'redpak-unsigned-templates-'));
  cpSync(BUILTIN_TEMPLATE_DIR, dir, { recursive: true });
  acceptUnsignedPackages(join(dir, 'system-normal.yaml'));
  made = dir;
  return dir;
}
