/**
 * Writes conveyor.schema.json, the JSON Schema of conveyor.yaml, from the zod schema that
 * validates it (src/config/schema.ts). `npm run schema` after changing the schema;
 * test/unit/config-json-schema.test.ts fails while the file is out of date.
 *
 * Editors that speak the YAML language server pick it up from the first line of a file:
 *   # yaml-language-server: $schema=./conveyor.schema.json
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { configSchema } from '../src/config/schema.js';

export const SCHEMA_FILE = join(import.meta.dirname, '..', 'conveyor.schema.json');

/** The schema as JSON text (stable: the same schema gives the same bytes). */
export function renderJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema, ...rest } = schema;
  const document = {
    $schema,
    title: 'conveyor.yaml',
    description:
      'Configuration of Conveyor (the Slack ChatOps bot and GitOps controller). Generated from src/config/schema.ts by `npm run schema`: do not edit. Secrets never live in this file; they come from environment variables.',
    ...rest,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, renderJsonSchema());
  console.log(`wrote ${SCHEMA_FILE}`);
}
