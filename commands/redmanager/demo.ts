import { Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { runDemo, type DemoResult } from '../../src/demo.js';

export default class Demo extends RedpakCommand {
  static override summary = 'Build a small demo family and show it (the README quick start).';
  static override description = 'Creates system → platform → app nodes from the shipped templates in a new directory (or --dir), then shows the tree and the merged configuration of app with the origin of every value. Each step prints the command that does the same by hand.';
  static override examples = ['<%= config.bin %> demo', '<%= config.bin %> demo --dir /tmp/redpak-demo'];
  static override flags = {
    dir: Flags.string({ description: 'directory to build the demo in (default: a new temporary directory)' }),
  };

  async run(): Promise<DemoResult> {
    const { flags } = await this.parse(Demo);
    const result = runDemo({ dir: flags.dir, host: this.host(), bin: this.config.bin });
    for (const [i, step] of result.steps.entries()) {
      this.log(`\n== ${i + 1}. ${step.title}\n$ ${step.command}\n${step.output}`);
    }
    this.log(`\nThe demo family is in ${result.dir}`);
    return result;
  }
}
