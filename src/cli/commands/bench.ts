import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('(not implemented yet)')
    .action(() => {
      throw new UserError('bench is not implemented yet');
    });
}
