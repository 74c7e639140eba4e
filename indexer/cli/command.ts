// One `vidsearch` command: its help (usage, what it does, the option tables) and its body. The
// help's option lines come from the same tables the parser is built from (options.ts).
// Conventions of every command: exit 0 success, 1 failure, 2 usage error (a thrown UsageError,
// turned into exit 2 by cli.ts); with --json only the JSON document goes to stdout.
import { groupHelp, parse, tableHelp, type OptionGroup, type OptionTable } from './options';

export interface Command {
  name: string;
  /** the command's lines in `vidsearch --help`: [what to type, what it does] */
  summary: [string, string];
  /** "Usage: ..." (one or more lines) */
  usage: string;
  /** what it does, before the options */
  about?: string;
  /** the tables listed under "Options:" and parsed */
  options: OptionTable[];
  /** titled groups listed after them and parsed too (the configuration) */
  groups?: OptionGroup[];
  /** after the options: exit status, notes */
  footer?: string;
  /** whether it takes positional arguments (default true) */
  positionals?: boolean;
  main(args: string[]): Promise<number>;
}

export const out = (s: string) => process.stdout.write(s + '\n');
export const err = (s: string) => process.stderr.write(s + '\n');

/** Resolves at the first SIGINT or SIGTERM, which it then stops handling: a second one is Node's default exit. */
export function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export function helpText(c: Command): string {
  const options = c.options.map(tableHelp).filter(Boolean).join('\n');
  return [c.usage, c.about, options && `Options:\n${options}`, ...(c.groups ?? []).map(groupHelp), c.footer].filter(Boolean).join('\n\n');
}

/** The command's flags and arguments; undefined when --help was given (and the help printed). */
export function parseCommand(c: Command, args: string[]) {
  const parsed = parse(args, [...c.options, ...(c.groups ?? []).map((g) => g.options)], { positionals: c.positionals ?? true });
  if (parsed.values.help) {
    out(helpText(c));
    return undefined;
  }
  return parsed;
}

export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
