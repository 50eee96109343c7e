#!/usr/bin/env node
// Writes dist/oclif/VIEW/oclif.manifest.json for each executable, so that a run loads only the
// command it runs. Run after tsc (npm run build does).
import { Config } from '@oclif/core';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { oclifOptions } from '../dist/src/cli/run.js';

// Four views: redwrap's operations (ps, stop, enter) have a manifest of their own (src/cli/run.ts).
for (const view of ['redmanager', 'redwrap-dnf', 'redwrap', 'redwrap-operations']) {
  const options = oclifOptions(view);
  const file = join(options.root, 'oclif.manifest.json');
  rmSync(file, { force: true });
  mkdirSync(options.root, { recursive: true });
  const config = await Config.load(options);
  const manifest = config.getPluginsList().find((plugin) => plugin.isRoot).manifest;
  // oclif leaves out whether a flag of several values takes one per occurrence: the quick starts
  // (src/cli/quick-start.ts) need it to read the arguments that follow as oclif does.
  for (const [id, declared] of Object.entries(manifest.commands)) {
    const command = await config.findCommand(id).load();
    for (const [name, flag] of Object.entries(command.flags ?? {}))
      if (flag.multipleNonGreedy) declared.flags[name].multipleNonGreedy = true;
  }
  writeFileSync(file, `${JSON.stringify(manifest)}\n`);
}
