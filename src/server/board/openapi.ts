/**
 * The OpenAPI 3.1 description of serve's HTTP API, served at `/api/openapi.json`. Request
 * bodies are generated from the same zod schemas the routes validate with, so the description
 * cannot drift from what is accepted; responses are written here and checked against real
 * answers in test/integration/board-api.test.ts.
 */
import { z } from 'zod';
import { SINCE_FORMS } from '../../core/since.js';
import { eventBody, importBody, registerBody } from '../journal-routes.js';
import { runBody } from '../local-api.js';
import { morePaths, moreSecuritySchemes } from './openapi-routes.js';

const toSchema = (schema: z.ZodType) => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as Record<
    string,
    unknown
  >;
  return rest;
};

const error = { $ref: '#/components/schemas/Error' };
const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: error } },
});
const json = (description: string, schema: unknown) => ({ description, content: { 'application/json': { schema } } });

const REPLY_BLOCK = {
  type: 'object',
  required: ['type'],
  properties: { type: { enum: ['text', 'table', 'list', 'code', 'buttons', 'mentions'] } },
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Conveyor',
      version: '0.1.0',
      description:
        "Conveyor's HTTP API, served by `conveyor serve` beside Slack's endpoints and the web board. Personal API tokens (`cvy_…`) are created in Slack with `/conveyor token create`.",
    },
    components: {
      securitySchemes: {
        personalToken: {
          type: 'http',
          scheme: 'bearer',
          description: "A personal API token `cvy_…` (the sandbox also takes serve's local token).",
        },
        clusterToken: {
          type: 'http',
          scheme: 'bearer',
          description: "A journal cluster or agent token from JOURNAL_TOKENS, or serve's local token.",
        },
        ...moreSecuritySchemes(),
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'string' } },
        },
        Reply: {
          type: 'object',
          required: ['status', 'title', 'blocks'],
          properties: {
            status: { enum: ['ok', 'usage', 'refused', 'error'] },
            title: { type: 'string' },
            blocks: { type: 'array', items: REPLY_BLOCK },
            ephemeral: { type: 'boolean' },
            operation: {
              type: 'object',
              required: ['id', 'state'],
              properties: {
                id: { type: 'string', pattern: '^op_[0-9a-z]{8,32}$' },
                state: { type: 'string' },
                kind: { type: 'string' },
                app: { type: 'string' },
                env: { type: 'string' },
              },
            },
            data: {},
          },
        },
        AuditEntry: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'at', 'actor', 'action', 'operationId', 'detail'],
          properties: {
            id: { type: 'integer', minimum: 1 },
            at: { type: 'string', format: 'date-time' },
            actor: { type: 'string' },
            action: { type: 'string' },
            operationId: { type: ['string', 'null'] },
            detail: { type: 'object' },
          },
        },
        JournalVersion: {
          type: 'object',
          additionalProperties: false,
          required: [
            'version',
            'cluster',
            'file',
            'size',
            'sha256',
            'objectKey',
            'ticket',
            'mandators',
            'uploadedAt',
            'registeredAt',
            'exportedAt',
            'uploadedBy',
          ],
          properties: {
            version: { type: 'string' },
            cluster: { type: 'string' },
            file: { type: 'string' },
            size: { type: 'integer', minimum: 0 },
            sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
            objectKey: { type: 'string' },
            ticket: { type: ['string', 'null'] },
            mandators: { type: 'array', items: { type: 'string' } },
            uploadedAt: { type: 'string', format: 'date-time' },
            registeredAt: { type: 'string', format: 'date-time' },
            exportedAt: { type: ['string', 'null'], format: 'date-time' },
            uploadedBy: { type: ['string', 'null'] },
          },
        },
        Recorded: { type: 'object', required: ['recorded'], properties: { recorded: { const: true } } },
      },
    },
    paths: {
      '/healthz': {
        get: {
          summary: 'Liveness: the process answers',
          responses: {
            '200': json('Alive', {
              type: 'object',
              required: ['ok'],
              properties: { ok: { const: true } },
            }),
          },
        },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: started and the state store answers',
          responses: {
            '200': json('Ready', readiness(true)),
            '503': json('Not ready (starting, stopping, or the store does not answer)', readiness(false)),
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          responses: {
            '200': {
              description: 'The Prometheus text exposition format',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        },
      },
      '/api/run': {
        post: {
          summary: "Run a chat command as the token's owner",
          security: [{ personalToken: [] }],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { ...toSchema(runBody), required: ['text'] },
              },
            },
          },
          responses: {
            '200': json("The command's reply (also when it refused: see `status`)", {
              $ref: '#/components/schemas/Reply',
            }),
            '400': errorResponse('The body is not a valid request'),
            '401': errorResponse('No token, or not a valid one'),
            '403': errorResponse('A personal token naming another user'),
            '409': json('The idempotency key was used for another command', { $ref: '#/components/schemas/Reply' }),
          },
        },
      },
      '/api/audit': {
        get: {
          summary: 'The audit log as NDJSON, oldest first',
          description:
            'One JSON object per line. The token owner sees the lines of the environments their roles may see (README, "Web board").',
          security: [{ personalToken: [] }],
          parameters: [
            query('since', `Lines at or after: ${SINCE_FORMS}`),
            query('action', 'An action, or a prefix ending in "." (operation.)'),
            query('actor', 'Who did it (a Slack user id, a cluster, conveyor)'),
            query('operation', 'An operation id'),
            {
              name: 'limit',
              in: 'query',
              required: false,
              description: 'At most this many lines (default and most: 100000)',
              schema: { type: 'integer', minimum: 1, maximum: 100_000 },
            },
          ],
          responses: {
            '200': {
              description: 'Audit lines, one JSON object (AuditEntry) per line',
              content: {
                'application/x-ndjson': {
                  schema: { type: 'string' },
                  itemSchema: { $ref: '#/components/schemas/AuditEntry' },
                },
              },
            },
            '400': errorResponse(
              'A parameter is not valid, unknown, empty or given twice (one line naming it). Each is given at most once.',
            ),
            '401': errorResponse('No token, or not a valid one'),
          },
        },
      },
      '/api/openapi.json': {
        get: {
          summary: 'This description',
          responses: { '200': json('OpenAPI 3.1', { type: 'object', required: ['openapi', 'paths'] }) },
        },
      },
      '/api/journal/versions': {
        get: {
          summary: 'Registered journal versions, newest first',
          parameters: [query('cluster', 'Only versions of this cluster'), query('day', 'Only this day, yyyy.mm.dd')],
          responses: {
            '200': json('Versions', {
              type: 'object',
              required: ['versions'],
              properties: { versions: { type: 'array', items: { $ref: '#/components/schemas/JournalVersion' } } },
            }),
            '400': errorResponse('A filter is not valid'),
          },
        },
        post: {
          summary: 'Register an uploaded journal version',
          security: [{ clusterToken: [] }],
          requestBody: { required: true, content: { 'application/json': { schema: toSchema(registerBody) } } },
          responses: {
            '201': json('Registered', registered),
            '200': json('Known already (same checksum)', registered),
            '400': errorResponse('Not a valid registration'),
            '401': errorResponse('No cluster token'),
            '403': errorResponse('This token may not register for that cluster'),
            '409': errorResponse('The object disagrees with the registration'),
          },
        },
      },
      '/api/journal/versions/latest': {
        get: {
          summary: 'The newest registered version',
          parameters: [query('cluster', 'Of this cluster')],
          responses: {
            '200': json('The version', { $ref: '#/components/schemas/JournalVersion' }),
            '404': errorResponse('No version yet'),
          },
        },
      },
      '/api/journal/versions/{id}': {
        get: {
          summary: 'One journal version',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': json('The version', { $ref: '#/components/schemas/JournalVersion' }),
            '400': errorResponse('Not a version id'),
            '404': errorResponse('No such version'),
          },
        },
      },
      '/api/journal/imports': {
        post: {
          summary: "An agent's import report",
          security: [{ clusterToken: [] }],
          requestBody: { required: true, content: { 'application/json': { schema: toSchema(importBody) } } },
          responses: {
            '202': json('Recorded', { $ref: '#/components/schemas/Recorded' }),
            '400': errorResponse('Not a valid report'),
            '401': errorResponse('No agent token'),
            '403': errorResponse('This token reports for another environment'),
          },
        },
      },
      '/api/journal/events': {
        post: {
          summary: "A modelling cluster's export event (uploaded, waiting, rejected, failed)",
          security: [{ clusterToken: [] }],
          requestBody: { required: true, content: { 'application/json': { schema: toSchema(eventBody) } } },
          responses: {
            '202': json('Recorded', { $ref: '#/components/schemas/Recorded' }),
            '400': errorResponse('Not a valid event'),
            '401': errorResponse('No cluster token'),
            '403': errorResponse('This token speaks for another cluster'),
          },
        },
      },
      ...morePaths(),
    },
  };
}

const registered = {
  type: 'object',
  required: ['version', 'created'],
  properties: { version: { type: 'string' }, created: { type: 'boolean' } },
};

function readiness(ready: boolean) {
  return {
    type: 'object',
    required: ['ready', 'store'],
    properties: { ready: { const: ready }, store: { type: 'boolean' } },
  };
}

function query(name: string, description: string) {
  return { name, in: 'query', required: false, description, schema: { type: 'string' } };
}
