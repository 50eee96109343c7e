/**
 * A repository with package groups: the fixture packages (src/pkg/fixture-repo.ts) indexed again
 * with createrepo_c -g and a comps document, as a distribution publishes its groups.
 */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { run } from '../../../src/pkg/exec.js';
import { fixtureRepo } from './family.js';

/**
 * redapps: redhello (mandatory), redscript (default), redlegacy (optional), redfoo-conf
 * (conditional on redhello); redtools: hidden, redcompat; redconf: redfoo-conf; redbroken: redscript
 * and a package no repository has.
 */
export const FIXTURE_COMPS = `<?xml version="1.0" encoding="UTF-8"?>
<comps>
  <group>
    <id>redapps</id>
    <name>Red apps</name>
    <name xml:lang="fr">Applications rouges</name>
    <description>The redpak fixture applications</description>
    <default>true</default>
    <uservisible>true</uservisible>
    <packagelist>
      <packagereq type="mandatory">redhello</packagereq>
      <packagereq type="default">redscript</packagereq>
      <packagereq type="optional">redlegacy</packagereq>
      <packagereq type="conditional" requires="redhello">redfoo-conf</packagereq>
    </packagelist>
  </group>
  <group>
    <id>redtools</id>
    <name>Red tools</name>
    <description>Hidden helpers &amp; compatibility</description>
    <uservisible>false</uservisible>
    <packagelist>
      <packagereq type="mandatory">redcompat</packagereq>
    </packagelist>
  </group>
  <group>
    <id>redconf</id>
    <name>Red configuration</name>
    <description>The configuration alone</description>
    <packagelist>
      <packagereq type="mandatory">redfoo-conf</packagereq>
    </packagelist>
  </group>
  <group>
    <id>redbroken</id>
    <name>Red broken</name>
    <description>Names a package no repository has</description>
    <packagelist>
      <packagereq>redscript</packagereq>
      <packagereq type="mandatory">rednothere</packagereq>
    </packagelist>
  </group>
</comps>
`;

/** A new directory holding the fixture packages and `comps`, indexed with createrepo_c -g. */
export async function makeCompsRepo(comps: string = FIXTURE_COMPS): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'redpak-comps-repo-'));
  mkdirSync(join(dir, 'packages'));
  for (const [name, path] of Object.entries((await fixtureRepo()).rpms)) {
    if (name.startsWith('redsigned')) continue;
    copyFileSync(path, join(dir, 'packages', basename(name)));
  }
  writeFileSync(join(dir, 'comps.xml'), comps);
  await run('createrepo_c', ['-q', '--no-database', '-g', 'comps.xml', dir], { purpose: 'index the comps repository' });
  return dir;
}
