import { z } from 'zod';
import { defineCommand } from '../src/core/command.js';
import { envArg } from './args.js';
import { notAvailableYet } from './not-yet.js';

const journalVersion = z.string().regex(/^\d{4}\.\d{2}\.\d{2}-[a-z0-9-]{1,40}\.\d{1,6}$/, 'a journal version such as 2026.11.23-dev-modelling.3');
const clusterName = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'a cluster name');

export const journalList = defineCommand({
  name: 'journal list',
  summary: 'List journal versions with their metadata',
  usage: 'journal list [--cluster <name>]',
  help: 'Lists registered journal versions, newest first.',
  positionals: [],
  flags: { cluster: { type: 'string', description: 'only versions exported by this cluster' } },
  schema: z.object({ cluster: clusterName.optional() }),
  mutates: false,
  run: notAvailableYet,
});

export const journalStatus = defineCommand({
  name: 'journal status',
  summary: 'Show each import environment: pointer, last import, next step',
  usage: 'journal status',
  help: 'Shows, for each environment of the journal chain, the version its key points to, the last import result and its age, and what happens next.',
  positionals: [],
  flags: {},
  schema: z.object({}),
  mutates: false,
  run: notAvailableYet,
});

export const journalPromote = defineCommand({
  name: 'journal promote',
  summary: 'Move an import environment to the version its predecessor imported',
  usage: 'journal promote <env> [--version <v>]',
  help: 'Moves the environment one step along the chain, behind the environment\'s approval gate.',
  positionals: ['env'],
  flags: { version: { type: 'string', description: 'the version (must be imported by the previous environment)' } },
  schema: z.object({ env: envArg, version: journalVersion.optional() }),
  mutates: true,
  run: notAvailableYet,
});

export const journalRollback = defineCommand({
  name: 'journal rollback',
  summary: 'Move an import environment back to the version it imported before',
  usage: 'journal rollback <env> [--to <v>]',
  help: 'Moves the pointer back to the previously imported version (or --to).',
  positionals: ['env'],
  flags: { to: { type: 'string', description: 'the version to return to' } },
  schema: z.object({ env: envArg, to: journalVersion.optional() }),
  mutates: true,
  run: notAvailableYet,
});
