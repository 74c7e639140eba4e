#!/usr/bin/env node
// Entry point for `npx vidsearch`: the engine is TypeScript, run through tsx's loader so there is
// no separate build step between `npm install` and the first command.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../indexer/cli/cli.ts');
process.exitCode = await main(process.argv.slice(2));
