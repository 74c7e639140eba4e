// The CLI's option tables: each command's help lists exactly the options its parser takes (made
// from the same table), vocabularies come from core/, and checked choices are refused by the parser.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMMANDS, mainHelp } from '../indexer/cli/cli';
import { helpText } from '../indexer/cli/command';
import { parse, parserOptions } from '../indexer/cli/options';
import { MODEL_VARIANTS, POOLINGS } from '../indexer/core/types';
import { LABEL_SETS, TEMPLATE_SETS } from '../indexer/core/labels';
import { UsageError } from '../indexer/core/errors';

describe('CLI option tables', () => {
  test('every command: the help lists every option the parser takes (hidden ones aside), and no other', () => {
    for (const c of COMMANDS) {
      const tables = [...c.options, ...(c.groups ?? []).map((g) => g.options)];
      const help = helpText(c);
      const listed = new Set([...help.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]));
      const parsed = Object.keys(parserOptions(...tables));
      const hidden = new Set(tables.flatMap((t) => Object.entries(t).filter(([, o]) => o.hidden).map(([n]) => n)));
      assert.deepEqual([...listed].sort(), parsed.filter((n) => !hidden.has(n)).sort(), c.name);
      assert.match(help, /^Usage/, c.name);
      assert.ok(mainHelp().includes(c.summary[0]), c.name);
    }
  });

  test('the vocabularies in the help are the ones in core/', () => {
    const help = (name: string) => helpText(COMMANDS.find((c) => c.name === name)!);
    assert.ok(help('index').includes(`--variant V         ${MODEL_VARIANTS.join(' | ')}`));
    assert.ok(help('index').includes(`--pooling P         ${POOLINGS.join(' | ')}`));
    assert.ok(help('tag').includes(LABEL_SETS.join(' | ')));
    assert.ok(help('tag').includes(TEMPLATE_SETS.join(' | ')));
    assert.ok(help('models').includes(MODEL_VARIANTS.join(' | ')));
  });

  test('checked choices are refused by the parser with the list', () => {
    const tag = COMMANDS.find((c) => c.name === 'tag')!;
    assert.throws(() => parse(['x', '--templates', 'nope'], tag.options), (e: unknown) => e instanceof UsageError && e.message === `--templates takes ${TEMPLATE_SETS.join(', ')}; got "nope"`);
    const models = COMMANDS.find((c) => c.name === 'models')!;
    assert.throws(() => parse(['--variants', 'fp32, int4'], models.options), /--variants takes fp32, quantized, fp16; got "int4"/);
    assert.equal(parse(['--variants', 'fp16,quantized'], models.options).values.variants, 'fp16,quantized');
    assert.throws(() => parse(['--bogus'], tag.options), (e: unknown) => e instanceof UsageError && /Unknown option '--bogus'/.test(e.message));
  });
});
