import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('(not implemented yet)')
    .action(() => {
      throw new UserError('compare is not implemented yet');
    });
}
