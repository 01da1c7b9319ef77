#!/usr/bin/env node
/**
 * The `rowgate` command line. Every failure prints one line
 * (`rowgate: <what went wrong>`) on stderr and exits non-zero.
 */
import { Command, CommanderError } from 'commander';
import { ROWGATE_VERSION } from '../version.js';
import { runDemo } from './demo.js';
import { runMigrate, runServe, runUserCreate } from './commands.js';

function buildProgram(): Command {
  const program = new Command('rowgate')
    .description('Data-access governance proxy for PostgreSQL')
    .version(ROWGATE_VERSION, '-v, --version', 'print the version and exit')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`rowgate: ${text.replace(/^error: /, '')}`) })
    .addHelpText(
      'after',
      '\nConfiguration comes from ROWGATE_* environment variables (BetweenRows BR_* names are aliases)' +
        '\nand a .env file in the working directory; see README.md for the table.',
    );

  // No subcommand means `serve`, as in BetweenRows; anything unknown is an error.
  program.allowExcessArguments(false).action(runServe);

  program
    .command('serve')
    .description('run migrations, then serve the admin API (and the proxy)')
    .action(runServe);

  program
    .command('demo')
    .description('start an embedded PostgreSQL with the demo database, seed the admin store, and serve')
    .option('--upstream-port <port>', 'port of the embedded demo PostgreSQL', '5433')
    .option('--reset', 'delete the demo upstream and admin store first')
    .action(runDemo);

  program.command('migrate').description('apply pending admin-store migrations and exit').action(runMigrate);

  const user = program.command('user').description('manage proxy users from the command line');
  user
    .command('create')
    .description('create a user (the rescue path when no admin can log in)')
    .requiredOption('--username <name>', 'username')
    .requiredOption('--password <password>', 'password (the API password rule is not applied)')
    .option('--admin', 'make the user an admin', false)
    .action(runUserCreate);

  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander; they already printed.
      process.exitCode = error.exitCode;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`rowgate: ${message.split('\n')[0]}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
