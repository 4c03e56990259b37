/**
 * GraphQL reads of a repository's git data in the GitHub fake: `Repository.ref(qualifiedName:)`,
 * `Repository.refs(refPrefix:)`, `Ref { name prefix target compare(headRef:) }`, the
 * `Comparison` of two refs (`status aheadBy behindBy commits`) and `Commit`'s fields, as GitHub
 * answers them. Connections are checked before anything runs, as GitHub checks them: `first` or
 * `last` is required, not both, at most 100 (`paginationErrors`).
 *
 * Cost: a request reads every ref once (`git for-each-ref`, with each ref's object and the fields
 * of the commit it points to) and, when it compares refs, their history once (`git log
 * --topo-order` of all the branches it names, at most `GRAPH` commits), both started at once
 * from the query's text before a resolver asks (`plan`, `prefetch`): two runs of git for
 * Conveyor's live read. A comparison whose branches part further back than that listing falls
 * back to `git rev-list --left-right --count` and a `git log` of its own. A comparison's commits
 * are listed oldest first, parents before children (`--topo-order`, reversed).
 */
import {
  type DocumentNode,
  type FieldNode,
  GraphQLError,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  getArgumentValues,
  getNamedType,
  getVariableValues,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import { gitMaybe, iso, nodeId } from './git-plumbing.js';
import type { RepoState } from './state.js';

/** The most a connection may be asked for, as on GitHub. */
const LIMIT = 100;
/** The most commits of a request's branches read in one run of git to compare them. */
const GRAPH = 500;

/** A commit's fields as git prints them. */
interface CommitData {
  oid: string;
  tree: string;
  parents: string[];
  authorName: string;
  authorEmail: string;
  authorDate: string; // ISO 8601 with the commit's offset (%aI)
  committerDate: string;
  message: string;
}
interface RefData {
  name: string; // fully qualified
  oid: string;
  type: string;
  peeled: string; // the object an annotated tag points to, else ''
  peeledType: string;
  tag: string; // an annotated tag's name
  tagMessage: string;
}

/** `for-each-ref` fields: the ref and its object, then the commit's (empty for other objects). */
const REF_FORMAT = [
  '%(refname)',
  '%(objectname)',
  '%(objecttype)',
  '%(*objectname)',
  '%(*objecttype)',
  '%(tag)',
  '%(tree)',
  '%(parent)',
  '%(authorname)',
  '%(authoremail:trim)',
  '%(authordate:iso-strict)',
  '%(committerdate:iso-strict)',
  '%(contents)',
]
  .map((f) => `${f}%00`)
  .join('');
/** The same commit fields from `git log`. */
const LOG_FORMAT = '%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cI%x00%B%x00';

const message = (raw: string) => raw.replace(/\n+$/, '');

/** NUL-terminated fields, `n` to a record (git ends each record with a newline of its own). */
function records(out: string, n: number): string[][] {
  const fields = out.split('\0');
  const all: string[][] = [];
  for (let i = 0; i + n <= fields.length; i += n) {
    const rec = fields.slice(i, i + n);
    rec[0] = rec[0]!.replace(/^\n/, '');
    all.push(rec);
  }
  return all;
}

function logCommit([oid, tree, parents, an, ae, ad, cd, body]: string[]): CommitData {
  return {
    oid: oid!,
    tree: tree!,
    parents: parents ? parents.split(' ') : [],
    authorName: an!,
    authorEmail: ae!,
    authorDate: ad!,
    committerDate: cd!,
    message: message(body!),
  };
}

/** `first`/`last` applied to items in order (both checked before execution). */
function slice<T>(items: T[], args: { first?: number | null; last?: number | null }): T[] {
  if (typeof args.first === 'number') return items.slice(0, args.first);
  if (typeof args.last === 'number') return args.last === 0 ? [] : items.slice(-args.last);
  return items;
}

/** What a short name may stand for, in the order GitHub tries: qualified first, then branch, then tag. */
const candidates = (name: string) =>
  name.startsWith('refs/')
    ? [name, `refs/heads/${name}`, `refs/tags/${name}`]
    : [`refs/heads/${name}`, `refs/tags/${name}`];

/** The ref a name most likely stands for (`candidates`' first), before the refs are read. */
const guess = (name: string) => candidates(name)[0]!;

/** What a `repository` field will read: any ref at all, and which refs it compares. */
interface Plan {
  refs: boolean;
  compares: { base: string; head: string }[];
}

/** The plan of a `repository` field, from its selections (fragments followed; directives not). */
function plan(info: GraphQLResolveInfo): Plan {
  const out: Plan = { refs: false, compares: [] };
  const fieldsOf = (set: SelectionSetNode | undefined, acc: FieldNode[] = []): FieldNode[] => {
    for (const s of set?.selections ?? []) {
      if (s.kind === Kind.FIELD) acc.push(s);
      else if (s.kind === Kind.INLINE_FRAGMENT) fieldsOf(s.selectionSet, acc);
      else fieldsOf(info.fragments[s.name.value]?.selectionSet, acc);
    }
    return acc;
  };
  const fieldDef = (type: string, field: string) =>
    (info.schema.getType(type) as GraphQLObjectType | undefined)?.getFields()[field];
  const argsOf = (type: string, node: FieldNode) => {
    const def = fieldDef(type, node.name.value);
    return def ? (getArgumentValues(def, node, info.variableValues) as Record<string, unknown>) : {};
  };
  for (const node of info.fieldNodes) {
    for (const f of fieldsOf(node.selectionSet)) {
      if (f.name.value === 'refs') out.refs = true;
      if (f.name.value !== 'ref') continue;
      out.refs = true;
      const base = argsOf('Repository', f).qualifiedName;
      for (const c of fieldsOf(f.selectionSet)) {
        if (c.name.value !== 'compare') continue;
        const head = argsOf('Ref', c).headRef;
        if (typeof base === 'string' && typeof head === 'string') out.compares.push({ base, head });
      }
    }
  }
  return out;
}

/**
 * One request's reads of one repository: every ref read once (on first use), commits read once
 * each. The returned object's fields are the `Repository` fields it answers.
 */
export function repositoryReads(r: RepoState, info?: GraphQLResolveInfo): Record<string, unknown> {
  let refsRead: Promise<Map<string, RefData>> | undefined;
  const commits = new Map<string, Promise<CommitData | null>>();

  const refs = () => {
    refsRead ??= gitMaybe(r.dir, ['for-each-ref', `--format=${REF_FORMAT}`]).then((out) => {
      const map = new Map<string, RefData>();
      for (const f of records(out ?? '', 13)) {
        const [name, oid, type, peeled, peeledType, tag, tree, parents, an, ae, ad, cd, contents] = f as [
          string,
          ...string[],
        ];
        map.set(name, {
          name,
          oid: oid!,
          type: type!,
          peeled: peeled!,
          peeledType: peeledType!,
          tag: tag!,
          tagMessage: type === 'tag' ? message(contents!) : '',
        });
        if (type === 'commit' && !commits.has(oid!)) {
          commits.set(
            oid!,
            Promise.resolve(logCommit([oid!, tree!, parents!, an!, ae!.replace(/^<|>$/g, ''), ad!, cd!, contents!])),
          );
        }
      }
      return map;
    });
    return refsRead;
  };
  const commit = (oid: string): Promise<CommitData | null> => {
    let c = commits.get(oid);
    if (!c) {
      c = gitMaybe(r.dir, ['log', '--no-walk', `--format=${LOG_FORMAT}`, oid, '--']).then((out) => {
        const [rec] = records(out ?? '', 8);
        return rec ? logCommit(rec) : null;
      });
      commits.set(oid, c);
    }
    return c;
  };
  const find = async (name: string) => {
    const map = await refs();
    for (const c of candidates(name)) {
      const found = map.get(c);
      if (found) return found;
    }
    return null;
  };

  const commitNode = (oid: string) => {
    const field =
      <T>(f: (c: CommitData) => T) =>
      async () => {
        const c = await commit(oid);
        if (!c) throw new GraphQLError(`Could not read commit ${oid}`);
        return f(c);
      };
    return {
      __typename: 'Commit',
      id: nodeId('Commit', oid),
      oid,
      abbreviatedOid: oid.slice(0, 7),
      message: field((c) => c.message),
      messageHeadline: field((c) => c.message.split('\n', 1)[0]),
      messageBody: field((c) => c.message.split('\n').slice(1).join('\n').replace(/^\n+/, '')),
      author: field((c) => ({ name: c.authorName, email: c.authorEmail, date: c.authorDate })),
      authoredDate: field((c) => iso(new Date(c.authorDate))),
      committedDate: field((c) => iso(new Date(c.committerDate))),
      tree: field((c) => ({ __typename: 'Tree', id: nodeId('Tree', c.tree), oid: c.tree })),
      parents: async (args: PageArgs) => connection((await field((c) => c.parents)()).map(commitNode), args),
    };
  };
  const objectNode = (oid: string, type: string, ref?: RefData): Record<string, unknown> => {
    if (type === 'commit') return commitNode(oid);
    if (type === 'tag' && ref) {
      return {
        __typename: 'Tag',
        id: nodeId('Tag', oid),
        oid,
        abbreviatedOid: oid.slice(0, 7),
        name: ref.tag,
        message: ref.tagMessage,
        target: objectNode(ref.peeled, ref.peeledType),
      };
    }
    const typename = type === 'tree' ? 'Tree' : type === 'blob' ? 'Blob' : 'Tag';
    return { __typename: typename, id: nodeId(typename, oid), oid, abbreviatedOid: oid.slice(0, 7) };
  };
  /** A ref's commit: the object itself, or what an annotated tag points to. */
  const commitOf = (ref: RefData) => (ref.type === 'tag' ? ref.peeled : ref.oid);

  /** Each run of git once a request. */
  const runs = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, f: () => Promise<T>): Promise<T> => {
    let p = runs.get(key) as Promise<T> | undefined;
    if (!p) {
      p = f();
      runs.set(key, p);
    }
    return p;
  };
  /** `git rev-list --left-right --count base...head`: how far head is ahead of base and behind. */
  const counts = (b: string, h: string) =>
    once(`count ${b}...${h}`, async () => {
      const out = await gitMaybe(r.dir, ['rev-list', '--left-right', '--count', `${b}...${h}`, '--']);
      const [behind, ahead] = (out ?? '').split(/\s+/).map(Number);
      if (behind === undefined || ahead === undefined || Number.isNaN(behind) || Number.isNaN(ahead)) return null;
      return { ahead, behind };
    });
  /** The newest `last` commits of head not in base (all without `last`), oldest first. */
  const newest = (b: string, h: string, last: number | null, skip = 0) =>
    once(`log ${b}..${h} ${last}${skip ? ` ${skip}` : ''}`, async () => {
      const limit = [...(last === null ? [] : [`--max-count=${last}`]), ...(skip ? [`--skip=${skip}`] : [])];
      const range = ['--topo-order', ...limit, '--reverse', `${b}..${h}`, '--'];
      const out = await gitMaybe(r.dir, ['log', `--format=${LOG_FORMAT}`, ...range]);
      return records(out ?? '', 8).map(logCommit);
    });
  /**
   * The history of `tips` in one `git log --topo-order` (children before parents), at most
   * `GRAPH` commits: enough to compare any two of them when everything below where it stops is
   * in both (`compareIn`).
   */
  const graph = (tips: string[]) =>
    once(`graph ${tips.join(' ')}`, async () => {
      const out = await gitMaybe(r.dir, [
        'log',
        '--topo-order',
        `--max-count=${GRAPH}`,
        `--format=${LOG_FORMAT}`,
        ...tips,
        '--',
      ]);
      if (out === null) return null;
      const order = records(out, 8).map(logCommit);
      return { order, listed: new Set(order.map((c) => c.oid)), complete: order.length < GRAPH };
    });
  /**
   * `base...head` from a graph: 1 marks what base reaches, 2 what head reaches, passed from each
   * commit to its parents (all children come first). Where the listing stopped, every commit
   * must be reached by both or by neither, else null (then rev-list and log answer).
   */
  const compareIn = (g: Awaited<ReturnType<typeof graph>>, b: string, h: string) => {
    if (!g?.listed.has(b) || !g.listed.has(h)) return null;
    const marks = new Map<string, number>([[b, 1]]);
    marks.set(h, (marks.get(h) ?? 0) | 2);
    for (const c of g.order) {
      const m = marks.get(c.oid) ?? 0;
      if (m) for (const p of c.parents) marks.set(p, (marks.get(p) ?? 0) | m);
    }
    if (!g.complete) {
      for (const [oid, m] of marks) if (m !== 3 && !g.listed.has(oid)) return null;
    }
    const right = g.order.filter((c) => marks.get(c.oid) === 2).reverse();
    const behind = g.order.filter((c) => marks.get(c.oid) === 1).length;
    return { ahead: right.length, behind, right };
  };
  /** The tips a request's comparisons name (see `prefetch`); their graph is read beside the refs. */
  let planned: string[] = [];
  /**
   * Starts at once the git a request's comparisons will need, by the refs' names, beside the read
   * of the refs (one round of git instead of two, two processes in all): what
   * `ref(qualifiedName:)` and `compare(headRef:)` name, taken as a qualified name or a branch, in
   * one graph. A comparison uses it only when the commits of both its refs, as read, are in it:
   * a ref that moved between the two runs of git is compared again.
   */
  const prefetch = (plan: Plan) => {
    if (!plan.refs) return;
    void refs();
    planned = [...new Set(plan.compares.flatMap((c) => [guess(c.base), guess(c.head)]))];
    if (planned.length > 0) void graph(planned);
  };

  const comparison = (base: RefData, head: RefData) => {
    const [b, h] = [commitOf(base), commitOf(head)];
    const known = (async () => {
      const found = planned.length > 0 ? compareIn(await graph(planned), b, h) : null;
      return found ?? compareIn(await graph([b, h]), b, h);
    })();
    const count = async () => {
      const n = (await known) ?? (await counts(b, h));
      if (!n) throw new GraphQLError(`Could not compare ${base.name} with ${head.name}`);
      return n;
    };
    /** The newest `last` (or all), or the oldest `first`, of head's commits, oldest first. */
    const list = async (args: PageArgs) => {
      const k = await known;
      if (k) return slice(k.right, args);
      if (typeof args.first !== 'number') return newest(b, h, typeof args.last === 'number' ? args.last : null);
      return newest(b, h, args.first, Math.max(0, (await count()).ahead - args.first));
    };
    return {
      id: nodeId('Comparison', `${b}...${h}`),
      aheadBy: async () => (await count()).ahead,
      behindBy: async () => (await count()).behind,
      status: async () => {
        const { ahead, behind } = await count();
        return ahead === 0 && behind === 0 ? 'IDENTICAL' : behind === 0 ? 'AHEAD' : ahead === 0 ? 'BEHIND' : 'DIVERGED';
      },
      baseTarget: objectNode(base.oid, base.type, base),
      headTarget: objectNode(head.oid, head.type, head),
      commits: async (args: PageArgs) => {
        const [total, list_] = await Promise.all([count(), list(args)]);
        for (const c of list_) if (!commits.has(c.oid)) commits.set(c.oid, Promise.resolve(c));
        const nodes = list_.map((c) => commitNode(c.oid));
        return {
          totalCount: total.ahead,
          nodes,
          edges: nodes.map((node) => ({ node, cursor: Buffer.from(node.oid).toString('base64') })),
          pageInfo: pageInfo(list_.length < total.ahead, args),
          authorCount: new Set(list_.map((c) => c.authorEmail)).size,
        };
      },
    };
  };

  const refNode = (ref: RefData) => {
    const slash =
      ref.name.startsWith('refs/heads/') || ref.name.startsWith('refs/tags/') ? ref.name.indexOf('/', 5) + 1 : 0;
    const prefix = ref.name.slice(0, slash);
    return {
      id: nodeId('Ref', `${r.id}:${ref.name}`),
      name: ref.name.slice(slash),
      prefix,
      target: objectNode(ref.oid, ref.type, ref),
      compare: async (args: { headRef: string }) => {
        const head = await find(args.headRef);
        return head ? comparison(ref, head) : null;
      },
    };
  };

  if (info) prefetch(plan(info));
  return {
    ref: async (args: { qualifiedName: string }) => {
      const found = await find(args.qualifiedName);
      return found ? refNode(found) : null;
    },
    refs: async (args: PageArgs & { refPrefix: string; direction?: 'ASC' | 'DESC' | null }) => {
      const map = await refs();
      const all = [...map.values()].filter((x) => x.name.startsWith(args.refPrefix) && x.name !== args.refPrefix);
      if (args.direction === 'DESC') all.reverse();
      const page = slice(all, args);
      const nodes = page.map((x) => {
        const node = refNode(x);
        // A ref listed under a prefix is named relative to it, as GitHub names it.
        return { ...node, name: x.name.slice(args.refPrefix.length), prefix: args.refPrefix };
      });
      return {
        totalCount: all.length,
        nodes,
        edges: nodes.map((node) => ({ node, cursor: Buffer.from(node.id).toString('base64') })),
        pageInfo: pageInfo(page.length < all.length, args),
      };
    },
  };
}

interface PageArgs {
  first?: number | null;
  last?: number | null;
}

/** A connection of `items` in order, `first`/`last` applied. */
function connection<T>(items: T[], args: PageArgs) {
  const nodes = slice(items, args);
  return { totalCount: items.length, nodes, pageInfo: pageInfo(nodes.length < items.length, args) };
}

/** Whether more lie beyond the page, the way it was read. */
function pageInfo(more: boolean, args: PageArgs) {
  const forward = typeof args.first === 'number';
  return {
    hasNextPage: forward && more,
    hasPreviousPage: !forward && typeof args.last === 'number' && more,
  };
}

/**
 * GitHub's checks of every connection in an operation before it runs anything: `first` or `last`
 * required, not both, neither negative nor above 100. The errors, or none; GitHub answers them
 * with `data: null`.
 */
export function paginationErrors(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName: string | undefined,
): GraphQLError[] {
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode =>
      d.kind === 'OperationDefinition' && (operationName === undefined || d.name?.value === operationName),
  );
  if (!operation) return [];
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors) return []; // execute reports these
  const errors: GraphQLError[] = [];
  const typeInfo = new TypeInfo(schema);
  const check = (node: FieldNode) => {
    const def = typeInfo.getFieldDef();
    const type = typeInfo.getType();
    if (!def || !type || !getNamedType(type).name.endsWith('Connection')) return;
    const names = new Set(def.args.map((a) => a.name));
    if (!names.has('first') || !names.has('last')) return;
    const args = getArgumentValues(def, node, coerced.coerced) as PageArgs;
    const name = node.name.value;
    const fail = (message: string, type: string) =>
      errors.push(new GraphQLError(message, { nodes: node, extensions: { type } }));
    const first = typeof args.first === 'number' ? args.first : null;
    const last = typeof args.last === 'number' ? args.last : null;
    if (first === null && last === null) {
      fail(
        `You must provide a \`first\` or \`last\` value to properly paginate the \`${name}\` connection.`,
        'MISSING_PAGINATION_BOUNDARIES',
      );
    } else if (first !== null && last !== null) {
      fail(
        `Passing both \`first\` and \`last\` to paginate the \`${name}\` connection is not supported.`,
        'EXCESSIVE_PAGINATION',
      );
    } else {
      const [which, n] = first !== null ? ['first', first] : ['last', last!];
      if (n < 0) fail(`\`${which}\` on the \`${name}\` connection cannot be less than zero.`, 'INVALID_PAGINATION');
      else if (n > LIMIT) {
        fail(
          `Requesting ${n} records on the \`${name}\` connection exceeds the \`${which}\` limit of ${LIMIT} records.`,
          'EXCESSIVE_PAGINATION',
        );
      }
    }
  };
  visit(
    operation,
    visitWithTypeInfo(typeInfo, {
      Field: (node) => {
        check(node);
      },
    }),
  );
  // Fragments are checked where they are spread: visit their definitions with their type in scope.
  for (const d of document.definitions) {
    if (d.kind === 'FragmentDefinition') visit(d, visitWithTypeInfo(typeInfo, { Field: (node) => check(node) }));
  }
  return errors;
}
