#!/usr/bin/env node
// Entry point: run the TypeScript sources through tsx's loader (no build step needed).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
