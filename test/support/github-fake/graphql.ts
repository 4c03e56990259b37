/**
 * GitHub's GraphQL API in the fake (`POST /graphql`), for what Conveyor asks of it: the
 * `updateRefs` mutation (several refs moved at once, each from the value the caller saw) and
 * `repository(owner:, name:) { id }` with the refs, commits and comparisons of graphql-reads.ts. Every request is parsed and validated against GitHub's
 * public schema as Octokit publishes it (`@octokit/graphql-schema`), so a query GitHub would
 * refuse is refused here too, with HTTP 200 and `errors` as GitHub answers. A valid query that
 * asks for something the fake does not model is answered with an error naming the field.
 *
 * `updateRefs` checks every update first (the repository, each name, `beforeOid`, the object
 * `afterOid` names, fast-forward unless `force`), then applies all of them in one
 * `git update-ref --stdin` transaction from the values it checked: all move or none does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  buildSchema,
  type DocumentNode,
  execute,
  GraphQLError,
  type GraphQLFieldResolver,
  GraphQLObjectType,
  type GraphQLResolveInfo,
  GraphQLSchema,
  parse,
  validate,
} from 'graphql';
import { gitMaybe, nodeId, run, SHA } from './git-plumbing.js';
import { paginationErrors, repositoryReads } from './graphql-reads.js';
import { type Ctx, ok, type Reply } from './http.js';
import type { GitHubFake } from './server.js';
import type { RepoState } from './state.js';

const ZERO = '0000000000000000000000000000000000000000';

let schema: GraphQLSchema | undefined;
let older: GraphQLSchema | undefined;
/**
 * GitHub's schema, built once per process on the first GraphQL request (~0.3 s). The SDL file
 * is read where Node would find the package (its `import` entry would also parse the 7 MB JSON
 * form of the schema, which the fake has no use for).
 */
function githubSchema(): GraphQLSchema {
  if (!schema) {
    const dirs = createRequire(import.meta.url).resolve.paths('@octokit/graphql-schema') ?? [];
    const file = dirs.map((d) => join(d, '@octokit/graphql-schema/schema.graphql')).find((f) => existsSync(f));
    if (!file) throw new Error('@octokit/graphql-schema is not installed (npm install)');
    schema = buildSchema(readFileSync(file, 'utf8'), { assumeValidSDL: true });
  }
  return schema;
}

/**
 * The schema of a GitHub Enterprise Server older than `updateRefs` (`updateRefs: false`): the
 * same without the mutation and its three types, so a request for it is refused at validation,
 * with no `data`, as such a server refuses it.
 */
function olderSchema(): GraphQLSchema {
  if (!older) {
    const config = githubSchema().toConfig();
    const gone = new Set(['UpdateRefsInput', 'RefUpdate', 'UpdateRefsPayload']);
    const mutation = config.mutation!.toConfig();
    const { updateRefs: _, ...fields } = mutation.fields;
    const without = new GraphQLObjectType({ ...mutation, fields });
    older = new GraphQLSchema({
      ...config,
      mutation: without,
      types: config.types.filter((t) => !gone.has(t.name)).map((t) => (t.name === without.name ? without : t)),
    });
  }
  return older;
}

/** GitHub's answer to an error in a field: the message, and a `type` as GitHub's errors carry. */
function fieldError(message: string, type = 'UNPROCESSABLE'): GraphQLError {
  return new GraphQLError(message, { extensions: { type } });
}

interface RefUpdateInput {
  name: string;
  afterOid: string;
  beforeOid?: string | null;
  force?: boolean | null;
}

async function updateRefs(fake: GitHubFake, input: { repositoryId: string; refUpdates: RefUpdateInput[] }) {
  const r = fake.repoByNodeId(input.repositoryId);
  if (!r) throw fieldError(`Could not resolve to a node with the global id of '${input.repositoryId}'`, 'NOT_FOUND');
  if (input.refUpdates.length === 0) throw fieldError('At least one ref update is required');
  // Every update is checked at once (as one server would), then all are applied together.
  const lines = await Promise.all(
    input.refUpdates.map(async (u) => {
      const [valid, found, type] = await Promise.all([
        u.name.startsWith('refs/') && run(['check-ref-format', u.name]).then((x) => x.code === 0),
        gitMaybe(r.dir, ['rev-parse', '--verify', '--quiet', u.name]),
        u.afterOid === ZERO || !SHA.test(u.afterOid) ? null : gitMaybe(r.dir, ['cat-file', '-t', u.afterOid]),
      ]);
      if (!valid) throw fieldError(`Invalid ref name: ${u.name}`);
      const current = found ?? ZERO;
      const before = u.beforeOid ?? null;
      if (before !== null && before !== current) {
        throw fieldError(
          current === ZERO
            ? `${u.name} does not exist`
            : before === ZERO
              ? `${u.name} already exists`
              : `${u.name} is not at ${before}`,
        );
      }
      if (u.afterOid !== ZERO) {
        if (type === null) throw fieldError(`Object ${u.afterOid} does not exist`);
        const checkFastForward = u.force !== true && current !== ZERO;
        if (
          checkFastForward &&
          (await run(['merge-base', '--is-ancestor', current, u.afterOid], { cwd: r.dir })).code
        ) {
          throw fieldError(`Update of ${u.name} is not a fast forward`);
        }
      }
      return `update ${u.name} ${u.afterOid} ${current}`;
    }),
  );
  const done = await run(['update-ref', '--stdin'], { cwd: r.dir, input: `start\n${lines.join('\n')}\ncommit\n` });
  if (done.code !== 0) throw fieldError('A ref moved while the update was applied; nothing was changed');
  return { clientMutationId: null };
}

function repositoryNode(r: RepoState) {
  return { id: nodeId('Repository', r.id), name: r.name, nameWithOwner: `${r.owner}/${r.name}` };
}

/** Queries parsed and valid against a schema, by their text (a client sends the same few again and again). */
const validated = new WeakMap<GraphQLSchema, Map<string, DocumentNode>>();

/** `POST /graphql`. */
export async function graphqlRequest(fake: GitHubFake, { body }: Ctx): Promise<Reply> {
  if (typeof body.query !== 'string') return ok({ errors: [{ message: 'A query attribute must be specified' }] });
  const injected = fake.takeGraphqlFault();
  if (injected) return ok({ data: null, errors: injected.map((e) => ({ ...e, locations: [], path: [] })) });
  const served = fake.options.updateRefs === false ? olderSchema() : githubSchema();
  const known = validated.get(served) ?? new Map<string, DocumentNode>();
  validated.set(served, known);
  let document = known.get(body.query);
  if (!document) {
    try {
      document = parse(body.query);
    } catch (err) {
      return ok({ errors: [{ message: err instanceof Error ? err.message : String(err) }] });
    }
    const invalid = validate(served, document);
    if (invalid.length > 0) return ok({ errors: invalid.map((e) => e.toJSON()) });
    if (known.size >= 200) known.clear();
    known.set(body.query, document);
  }
  const variableValues = (body.variables ?? {}) as Record<string, unknown>;
  const operationName = typeof body.operationName === 'string' ? body.operationName : undefined;
  const unpaginated = paginationErrors(served, document, variableValues, operationName);
  if (unpaginated.length > 0) return ok({ data: null, errors: unpaginated.map(asGitHubError) });
  const roots: Record<string, (args: Record<string, unknown>, info: GraphQLResolveInfo) => unknown> = {
    repository: (args, info) => {
      const r = fake.repoByName(String(args.owner), String(args.name));
      if (!r)
        throw fieldError(`Could not resolve to a Repository with the name '${args.owner}/${args.name}'.`, 'NOT_FOUND');
      return { ...repositoryNode(r), ...repositoryReads(r, info) };
    },
    updateRefs: (args) => updateRefs(fake, args.input as Parameters<typeof updateRefs>[1]),
  };
  const root = {};
  const fieldResolver: GraphQLFieldResolver<unknown, unknown> = (source, args, _ctx, info) => {
    const value =
      source === root ? roots[info.fieldName] : (source as Record<string, unknown> | null)?.[info.fieldName];
    if (value === undefined) {
      throw fieldError(`the GitHub fake does not model ${info.parentType.name}.${info.fieldName}`);
    }
    return typeof value === 'function' ? (value as (a: unknown, i: GraphQLResolveInfo) => unknown)(args, info) : value;
  };
  const result = await execute({
    schema: served,
    document,
    rootValue: root,
    variableValues,
    operationName,
    fieldResolver,
  });
  return ok(result.errors ? { data: result.data ?? null, errors: result.errors.map(asGitHubError) } : result);
}

/** A field error as GitHub writes it: its `type` beside the message, not inside `extensions`. */
function asGitHubError(e: GraphQLError) {
  const { extensions, ...rest } = e.toJSON();
  return typeof extensions?.type === 'string' ? { type: extensions.type, ...rest } : { ...rest, extensions };
}
