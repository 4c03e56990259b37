/**
 * The rest of serve's routes in the OpenAPI description (./openapi.ts): the webhooks
 * (`/hooks/registry`, `/github/webhooks`), the embedded key-value store in Consul's shape
 * (`/v1/kv/{key}`) and the board's HTML pages. Slack's `/slack/events` is Slack's own protocol
 * (signed by Slack, shaped by its Events API) and is described there, not here.
 */
import { z } from 'zod';
import { registryDockerHubBody, registryGenericBody, registryHarborBody } from '../registry-webhook.js';

const toSchema = (schema: z.ZodType) => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as Record<
    string,
    unknown
  >;
  return rest;
};

const error = { $ref: '#/components/schemas/Error' };
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: error } } });
const json = (description: string, schema: unknown) => ({ description, content: { 'application/json': { schema } } });
const htmlPage = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
const seeOther = (description: string) => ({
  description,
  headers: { Location: { schema: { type: 'string' } } },
});
const query = (name: string, description: string) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema: { type: 'string' },
});
const header = (name: string, description: string, required = true) => ({
  name,
  in: 'header',
  required,
  description,
  schema: { type: 'string' },
});

const KEY = {
  name: 'key',
  in: 'path',
  required: true,
  description: 'The key, e.g. journal_version/qa',
  schema: { type: 'string' },
};
const OFF = htmlPage('The board is off (no `board.oidc` outside the sandbox)');
const TO_LOGIN = seeOther('Not signed in: to `/login?return=…`');

/** A board page: HTML for the viewer, a redirect to login, or the board-off page. */
function boardPage(summary: string, extra: Record<string, unknown> = {}, parameters: unknown[] = []) {
  return {
    get: {
      summary,
      tags: ['board'],
      ...(parameters.length ? { parameters } : {}),
      responses: { '200': htmlPage('The page'), '303': TO_LOGIN, '404': OFF, ...extra },
    },
  };
}

export function moreSecuritySchemes(): Record<string, unknown> {
  return {
    registryToken: {
      type: 'http',
      scheme: 'bearer',
      description:
        'REGISTRY_WEBHOOK_TOKEN, as `Authorization: Bearer <token>`, as the whole Authorization header, or as `?token=`.',
    },
    githubSignature: {
      type: 'apiKey',
      in: 'header',
      name: 'X-Hub-Signature-256',
      description: 'GitHub’s HMAC-SHA256 of the body with GITHUB_WEBHOOK_SECRET (`sha256=<hex>`).',
    },
    consulToken: {
      type: 'apiKey',
      in: 'header',
      name: 'X-Consul-Token',
      description: "A journal cluster or agent token (reads), serve's local token (writes); also as a bearer token.",
    },
  };
}

export function morePaths(): Record<string, unknown> {
  return {
    '/hooks/registry': {
      post: {
        summary: 'A registry says an image was pushed: the image discovery looks at once',
        description:
          'Mounted when REGISTRY_WEBHOOK_TOKEN is set. The payload only says which repository to look at; Conveyor reads the registry itself. Answers the apps it looks at (none when no image app uses that repository).',
        security: [{ registryToken: [] }],
        parameters: [query('token', 'The token, for senders that cannot set a header (Docker Hub)')],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                anyOf: [toSchema(registryGenericBody), toSchema(registryHarborBody), toSchema(registryDockerHubBody)],
              },
            },
          },
        },
        responses: {
          '202': json('The apps whose registry is being looked at', {
            type: 'object',
            required: ['looking'],
            properties: { looking: { type: 'array', items: { type: 'string' } } },
          }),
          '400': errorResponse('Not JSON, or none of the generic, Harbor or Docker Hub push shapes'),
          '401': errorResponse('No token, or not the right one'),
          '413': errorResponse('The body is over 256 KiB'),
        },
      },
    },
    '/github/webhooks': {
      post: {
        summary: 'GitHub deliveries: pushes, pull requests, reviews, checks, and pull request comments (IssueOps)',
        description:
          'Verified with GITHUB_WEBHOOK_SECRET before anything is done; each delivery id is handled once (a pull request comment once per comment id). Events Conveyor does not use are acknowledged and ignored.',
        security: [{ githubSignature: [] }],
        parameters: [
          header('X-GitHub-Event', 'The event name (push, pull_request, issue_comment, …)'),
          header('X-GitHub-Delivery', 'The delivery id'),
        ],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
        responses: {
          '200': json('Handled, or a delivery seen before', {
            type: 'object',
            required: ['ok'],
            properties: { ok: { const: true }, duplicate: { const: true } },
          }),
          '400': errorResponse('Headers missing, the body is not a JSON object, or not the shape of its event'),
          '401': errorResponse('The signature is missing, malformed or does not match'),
          '413': errorResponse('The body is over 5 MB'),
          '500': errorResponse('The delivery could not be handled (the next poll catches up)'),
          '503': errorResponse('GITHUB_WEBHOOK_SECRET is not set, or too many large deliveries at once'),
        },
      },
    },
    '/v1/kv/{key}': {
      get: {
        summary: 'Read a journal pointer (Consul KV shape; served when no Consul is configured)',
        security: [{ consulToken: [] }],
        parameters: [
          KEY,
          query('index', 'Block until the store moves past this index (Consul blocking query)'),
          query('wait', 'How long to block, e.g. 30s or 5m (at most 10m)'),
        ],
        responses: {
          '200': json('The entry, as Consul lists it (Value is base64)', {
            type: 'array',
            items: {
              type: 'object',
              required: ['Key', 'Value', 'ModifyIndex', 'CreateIndex', 'LockIndex', 'Flags'],
              properties: {
                Key: { type: 'string' },
                Value: { type: 'string' },
                ModifyIndex: { type: 'integer' },
                CreateIndex: { type: 'integer' },
                LockIndex: { type: 'integer' },
                Flags: { type: 'integer' },
              },
            },
          }),
          '400': errorResponse('The key is not valid percent-encoding'),
          '403': errorResponse('No token, or a key outside the journal prefix'),
          '404': json('No such key (Consul answers an empty list)', { type: 'array', maxItems: 0 }),
        },
      },
      put: {
        summary: "Move a journal pointer (serve's local token only; `cas` as Consul)",
        security: [{ consulToken: [] }],
        parameters: [KEY, query('cas', 'Write only if the entry is still at this modify index (0: only if absent)')],
        requestBody: {
          required: true,
          content: { 'text/plain': { schema: { type: 'string', description: 'A journal version id, or empty' } } },
        },
        responses: {
          '200': json('Whether it was written (false: the cas index did not match)', { type: 'boolean' }),
          '400': errorResponse('Not a journal version id, or a bad cas'),
          '403': errorResponse('Not the local token, or a key outside the journal prefix'),
        },
      },
    },
    '/': boardPage('The board: environments × apps, and recent operations'),
    '/ops/{id}': boardPage(
      'One operation: plan, approvals, steps, verification, timeline',
      { '404': htmlPage('No such operation (or one the viewer may not see), or the board is off') },
      [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
    ),
    '/history': boardPage('Past operations, filtered', { '400': htmlPage('A filter names nothing it may be') }, [
      query('app', 'An app'),
      query('env', 'An environment'),
      query('state', 'An operation state'),
      query('kind', 'An operation kind'),
    ]),
    '/audit': boardPage('The audit log, newest first', { '400': htmlPage('A filter is not valid') }, [
      query('since', 'An ISO time, a date (2026-11-25) or a duration back from now (90m, 24h, 7d)'),
      query('action', 'An action, or a prefix ending in "." (operation.)'),
      query('actor', 'Who did it'),
      query('operation', 'An operation id'),
    ]),
    '/journals': boardPage('Journal versions and pointers per environment'),
    '/events': {
      get: {
        summary: 'Live refresh of open board pages (server-sent events)',
        tags: ['board'],
        responses: {
          '200': {
            description: 'An event each time an operation or audit line changed',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          '401': htmlPage('Not signed in'),
          '404': OFF,
          '503': htmlPage('Too many watchers'),
        },
      },
    },
    '/login': {
      get: {
        summary: "Sign in through the OpenID provider (the provider's callback is board.oidc.redirectUrl)",
        tags: ['board'],
        parameters: [query('return', 'A board path to come back to')],
        responses: {
          '303': seeOther('To the provider (or, on the open sandbox board, home)'),
          '404': OFF,
          '502': htmlPage('The provider could not be reached'),
        },
      },
    },
    '/logout': {
      get: {
        summary: 'A page with the Sign out button (signing out is a POST)',
        tags: ['board'],
        responses: { '200': htmlPage('The page'), '404': OFF },
      },
      post: {
        summary: 'Sign out: the session ends on the board',
        tags: ['board'],
        responses: { '303': seeOther('To /signed-out') },
      },
    },
    '/signed-out': {
      get: { summary: 'After signing out', tags: ['board'], responses: { '200': htmlPage('The page') } },
    },
  };
}
