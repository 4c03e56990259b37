/**
 * Validates a response body against GitHub's published REST description (`@octokit/openapi`,
 * api.github.com). Used by the GitHub fake's own tests so the fake cannot drift from GitHub.
 *
 *   const problems = checkGitHubResponse('/repos/{owner}/{repo}/git/ref/{ref}', 'get', 200, body);
 *   expect(problems).toEqual([]);
 *   // or: assertGitHubResponse(path, method, status, body)  — throws with every problem listed.
 *
 * The whole document is added to ajv once (id `github`) and each response schema is compiled as
 * `{ $ref: 'github#/paths/…' }`, so its internal `#/components/…` refs resolve inside the
 * document. OpenAPI 3.0 `nullable: true` beside a `type` is understood by ajv itself; where it
 * stands without one (beside `oneOf`/`allOf`/`$ref`, which ajv refuses) it is rewritten to the
 * equivalent `anyOf: [schema, { type: 'null' }]`, and a nullable `enum` gets `null` added, as
 * OpenAPI 3.0 means (GitHub sends `"conclusion": null`); a `format: uri` field whose documented
 * `default` is `""` also accepts `""` (deployment statuses without URLs). `strict: false` only lets ajv ignore OpenAPI's
 * annotation keywords (`example`, `x-github`, `discriminator`) and formats it does not know;
 * every `type`, `required`, `enum` and known `format` is still checked.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats;

const DOC_ID = 'github';

interface OpenApiDoc {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
}

/** Rewrites `nullable: true` without `type` into `anyOf: [schema, null]`, in place. */
function normaliseNullable(node: unknown): unknown {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) node[i] = normaliseNullable(node[i]);
    return node;
  }
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  for (const key of Object.keys(obj)) obj[key] = normaliseNullable(obj[key]);
  if (obj.nullable === true && Array.isArray(obj.enum) && !obj.enum.includes(null)) {
    obj.enum = [...obj.enum, null]; // nullable enums (e.g. a pending check's conclusion)
  }
  if (obj.format === 'uri' && obj.default === '') {
    // The description's own default for the field (a deployment status without a log URL):
    // GitHub answers "", which `format: uri` alone would refuse.
    return { anyOf: [obj, { const: '' }] };
  }
  if (obj.nullable === true && obj.type === undefined) {
    const { nullable: _drop, ...rest } = obj;
    return { anyOf: [rest, { type: 'null' }] };
  }
  return obj;
}

let ajv: Ajv | undefined;
let doc: OpenApiDoc | undefined;
const compiled = new Map<string, ValidateFunction>();

function load(): { ajv: Ajv; doc: OpenApiDoc } {
  if (!ajv || !doc) {
    const require = createRequire(import.meta.url);
    const file = require.resolve('@octokit/openapi/generated/api.github.com.json');
    doc = normaliseNullable(JSON.parse(readFileSync(file, 'utf8'))) as OpenApiDoc;
    ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false });
    addFormats(ajv);
    ajv.addSchema(doc as object, DOC_ID);
  }
  return { ajv, doc };
}

/** JSON pointer escaping (RFC 6901) plus URI-fragment escaping of the result. */
function pointer(...parts: string[]): string {
  return parts.map((p) => encodeURIComponent(p.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');
}

/**
 * Problems (empty when valid) of `body` as the response of `method path` with `status`.
 * `path` is the template as written in the description, e.g. `/repos/{owner}/{repo}/pulls`.
 */
export function checkGitHubResponse(path: string, method: string, status: number, body: unknown): string[] {
  const { ajv, doc } = load();
  const m = method.toLowerCase();
  const op = doc.paths[path]?.[m];
  if (!op) throw new Error(`no operation ${m.toUpperCase()} ${path} in @octokit/openapi`);
  if (!(String(status) in op.responses)) {
    throw new Error(`${m.toUpperCase()} ${path} documents no ${status} response`);
  }
  const key = `${m} ${path} ${status}`;
  let validate = compiled.get(key);
  if (!validate) {
    let response = op.responses[String(status)] as { $ref?: string; content?: Record<string, unknown> };
    let ref = `${DOC_ID}#/${pointer('paths', path, m, 'responses', String(status))}`;
    if (response.$ref) {
      // responses may point to #/components/responses/…
      const target = response.$ref.slice(2).split('/');
      response = target.reduce<Record<string, unknown>>(
        (node, part) => node[part] as Record<string, unknown>,
        doc as unknown as Record<string, unknown>,
      );
      ref = `${DOC_ID}#/${target.map((t) => encodeURIComponent(t)).join('/')}`;
    }
    if (!response.content?.['application/json']) {
      validate = Object.assign((data: unknown) => data === undefined || data === '' || data === null, {
        errors: null,
      }) as unknown as ValidateFunction;
    } else {
      validate = ajv.compile({ $ref: `${ref}/content/application~1json/schema` });
    }
    compiled.set(key, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`.trim());
}

/** Throws listing every problem when `body` does not match the documented response. */
export function assertGitHubResponse(path: string, method: string, status: number, body: unknown): void {
  const problems = checkGitHubResponse(path, method, status, body);
  if (problems.length > 0) {
    throw new Error(
      `${method.toUpperCase()} ${path} ${status} does not match @octokit/openapi:\n  ${problems
        .slice(0, 30)
        .join('\n  ')}`,
    );
  }
}

/**
 * Problems (empty when valid) of `body` as the JSON request body of `method path`, checked
 * against the operation's documented `requestBody` schema (what a client may send).
 */
export function checkGitHubRequest(path: string, method: string, body: unknown): string[] {
  const { ajv, doc } = load();
  const m = method.toLowerCase();
  const op = doc.paths[path]?.[m] as { requestBody?: { content?: Record<string, unknown> } } | undefined;
  if (!op) throw new Error(`no operation ${m.toUpperCase()} ${path} in @octokit/openapi`);
  if (!op.requestBody?.content?.['application/json']) throw new Error(`${m.toUpperCase()} ${path} takes no JSON body`);
  const key = `request ${m} ${path}`;
  let validate = compiled.get(key);
  if (!validate) {
    const ref = `${DOC_ID}#/${pointer('paths', path, m, 'requestBody', 'content', 'application/json', 'schema')}`;
    validate = ajv.compile({ $ref: ref });
    compiled.set(key, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`.trim());
}
