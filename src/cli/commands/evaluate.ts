import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('(not implemented yet)')
    .action(() => {
      throw new UserError('evaluate is not implemented yet');
    });
}
