import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';

export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description('(not implemented yet)')
    .action(() => {
      throw new UserError('embed is not implemented yet');
    });
}
