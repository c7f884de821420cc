import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('(not implemented yet)')
    .action(() => {
      throw new UserError('predict is not implemented yet');
    });
}
