/**
 * Checks an Adaptive Card against Microsoft's official schema (vendored under
 * test/fixtures/adaptive-cards/, source named in its README). Returns the problems, [] if none.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats;

let validate: ValidateFunction | undefined;

function compile(): ValidateFunction {
  if (validate) return validate;
  const require = createRequire(import.meta.url);
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  addFormats(ajv);
  const file = new URL('../fixtures/adaptive-cards/adaptive-card-1.4.0.schema.json', import.meta.url);
  // The 1.4 schema names itself with draft-04's `id`; ajv 8 reads `$id`.
  const { id, ...schema } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  validate = ajv.compile({ ...schema, $id: String(id) });
  return validate;
}

export function adaptiveCardProblems(card: unknown): string[] {
  const v = compile();
  if (v(card)) return [];
  return (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`);
}

/** A Teams incoming-webhook message: `type: message` with one Adaptive Card attachment. */
export function teamsMessageProblems(message: unknown): string[] {
  const m = message as { type?: unknown; attachments?: { contentType?: unknown; content?: unknown }[] };
  if (m?.type !== 'message') return ['type must be "message"'];
  if (!Array.isArray(m.attachments) || m.attachments.length !== 1) return ['one attachment expected'];
  const [a] = m.attachments;
  if (a?.contentType !== 'application/vnd.microsoft.card.adaptive')
    return ['attachment contentType must be application/vnd.microsoft.card.adaptive'];
  return adaptiveCardProblems(a.content);
}
