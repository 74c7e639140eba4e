// `vidsearch` command line: the dispatcher (bin/vidsearch.js bundles this entry). Each command is
// one file (cmd-*.ts) with its option tables, from which both its parser and its help are made
// (options.ts, command.ts). Exit codes: 0 success, 1 when any file failed or on errors, 2 on usage
// errors. With --json, stdout holds only the JSON document; progress and logs go to stderr.
import { UsageError, VidsearchError, errorMessage } from '../core/errors';
import { DEFAULT_HOST, DEFAULT_PORT, resolveConfig, resolveServerConfig } from '../services/config';
import { err, out, type Command } from './command';
import { index } from './cmd-index';
import { search } from './cmd-search';
import { watch } from './cmd-watch';
import { library, worker } from './cmd-work';
import { tag } from './cmd-tag';
import { stats } from './cmd-stats';
import { damageHint, doctor } from './cmd-doctor';
import { evalCommand } from './cmd-eval';
import { exportFeaturesCommand } from './cmd-export-features';
import { models } from './cmd-models';
import { postgresDev } from './cmd-postgres-dev';
import { storeCommand } from './cmd-store';

export { indexProgressLine, type IndexProgress } from './progress';

/** The commands, in the order the main help lists them. */
export const COMMANDS: readonly Command[] = [index, search, watch, library, worker, tag, stats, doctor, evalCommand, exportFeaturesCommand, models, storeCommand, postgresDev];

export function mainHelp(): string {
  return `vidsearch: search a video library by describing what you remember

Usage:
${COMMANDS.map((c) => `  ${c.summary[0].padEnd(32)}${c.summary[1]}`).join('\n')}
Run \`vidsearch <command> --help\` for a command's options.

Web app (in the project folder):
  npm start                       the search page at http://${DEFAULT_HOST}:${DEFAULT_PORT}; PORT and HOST change
                                  where it listens (beyond loopback it asks for VIDSEARCH_PASSWORD
                                  or VIDSEARCH_API_TOKEN). It downloads the model when missing.
  npm run demo                    the same with sample videos and the small test model, offline`;
}

/** The data directory, model and web address this environment gives, for the main help. */
function inUse(env: NodeJS.ProcessEnv): string {
  let data: string;
  try {
    const cfg = resolveConfig({}, env);
    data = `Data directory in use: ${cfg.home} (VIDSEARCH_HOME or --home)\nModel: ${cfg.model} (VIDSEARCH_MODEL)`;
  } catch (e) {
    data = `Data directory: the configuration is invalid: ${errorMessage(e)}`;
  }
  let web = '';
  try {
    const s = resolveServerConfig(env);
    const host = s.host.includes(':') ? `[${s.host}]` : s.host === '0.0.0.0' || s.host === '::' ? 'localhost' : s.host;
    if (s.host !== DEFAULT_HOST || s.port !== DEFAULT_PORT) web = `\nWeb app with this environment: http://${host}:${s.port}`;
  } catch {
    // a bad HOST/PORT is reported by npm start itself
  }
  return `\n${data}${web}`;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    out(mainHelp());
    out(inUse(process.env));
    return cmd ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.name === cmd);
  try {
    if (!command) throw new UsageError(`unknown command "${cmd}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
    return await command.main(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`vidsearch: ${e.message}`);
      err(`run \`vidsearch ${command !== undefined ? cmd + ' ' : ''}--help\` for usage`);
      return 2;
    }
    err(`vidsearch: ${e instanceof VidsearchError ? e.message : errorMessage(e)}`);
    const hint = damageHint(e);
    if (hint) err(`vidsearch: ${hint}`);
    if (process.env.VIDSEARCH_DEBUG && e instanceof Error) err(e.stack ?? '');
    return 1;
  }
}
