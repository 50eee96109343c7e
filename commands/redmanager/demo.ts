import { Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { runDemo, type DemoResult } from '../../src/cli/demo.js';

export default class Demo extends RedpakCommand {
  static override summary = 'Build a demo family, install packages in it and run one (the README quick start).';
  static override description =
    `In a new directory (or --dir): builds a package repository from the spec files in fixtures/, creates system → platform → app nodes, installs a shared library in platform and an application that needs it in app (the library is not installed again), shows the family's package view, its tree and app's merged configuration, and runs the application in app with redwrap.
Each step prints the command that does the same by hand.`;

  static override examples = ['<%= config.bin %> demo', '<%= config.bin %> demo --dir /tmp/redpak-demo'];
  static override flags = {
    dir: Flags.string({ description: 'directory to build the demo in (default: a new temporary directory)' }),
  };

  async run(): Promise<DemoResult> {
    const { flags } = await this.parse(Demo);
    let count = 0;
    const result = await runDemo({
      dir: flags.dir,
      host: this.host(),
      onStep: (step) => {
        if (!this.jsonEnabled()) this.log(`\n== ${++count}. ${step.title}\n$ ${step.command}\n${step.output}`);
      },
    });
    this.log(`\nThe demo family is in ${result.dir}`);
    return result;
  }
}
