import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('(not implemented yet)')
    .action(() => {
      throw new UserError('models is not implemented yet');
    });
}
