import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';

export function registerData(program: Command): void {
  program
    .command('data')
    .description('(not implemented yet)')
    .action(() => {
      throw new UserError('data is not implemented yet');
    });
}
