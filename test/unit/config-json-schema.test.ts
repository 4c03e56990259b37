/**
 * conveyor.schema.json (what editors use to check conveyor.yaml) is generated from the zod schema
 * (`npm run schema`) and must stay in step with it: the committed file equals a fresh render,
 * every shipped configuration is valid under both and carries the `yaml-language-server` line
 * that points at the file, and a configuration with known mistakes fails under both.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderJsonSchema, SCHEMA_FILE } from '../../scripts/generate-schema.js';
import { parseConfig } from '../../src/config/load.js';
import { ensureSandbox } from '../../src/sandbox/sandbox.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SHIPPED = [
  'manifests/base/conveyor.yaml',
  'manifests/journal-agent/conveyor.yaml',
  'manifests/journal-watch/conveyor.yaml',
];
const LINE = /^# yaml-language-server: \$schema=(\S+)$/;

function validator() {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const addFormats = ((addFormatsModule as unknown as { default?: (a: unknown) => void }).default ??
    addFormatsModule) as unknown as (a: unknown) => void;
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
}

describe('conveyor.schema.json', () => {
  it('is what `npm run schema` generates from src/config/schema.ts today', () => {
    expect(existsSync(SCHEMA_FILE), 'conveyor.schema.json is missing: run npm run schema').toBe(true);
    expect(readFileSync(SCHEMA_FILE, 'utf8'), 'out of date: run npm run schema').toBe(renderJsonSchema());
  });

  it.each(SHIPPED)('%s: valid under the JSON Schema and the zod schema, and points at the schema', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const validate = validator();
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
    expect(() => parseConfig(text, file)).not.toThrow();
    const [, ref] = LINE.exec(text.split('\n')[0]!) ?? [];
    expect(ref, `${file} starts with a yaml-language-server line`).toBeDefined();
    expect(resolve(dirname(join(ROOT, file)), ref!)).toBe(SCHEMA_FILE);
  });

  it("the sandbox's generated configuration points at the schema and is valid under it", async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'conveyor-schema-'));
    try {
      const sandbox = await ensureSandbox(cwd);
      const text = readFileSync(sandbox.configFile, 'utf8');
      const [, ref] = LINE.exec(text.split('\n')[0]!) ?? [];
      expect(ref).toBeDefined();
      expect(resolve(dirname(sandbox.configFile), ref!)).toBe(SCHEMA_FILE);
      expect(validator()(parse(text))).toBe(true);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('refuses the mistakes the zod schema refuses (a bad enum, a bad app name, an unknown field)', () => {
    const validate = validator();
    const bad = parse(readFileSync(join(ROOT, SHIPPED[0]!), 'utf8')) as Record<string, unknown> & {
      environments: Record<string, unknown>[];
      apps: Record<string, unknown>[];
    };
    bad.environments[1]!.enters = 'carrier-pigeon';
    bad.apps[0]!.name = 'Not An App';
    bad.colour = 'blue';
    expect(validate(bad)).toBe(false);
    const paths = (validate.errors ?? []).map((e: ErrorObject) => e.instancePath || e.params?.additionalProperty);
    expect(paths).toEqual(expect.arrayContaining(['/environments/1/enters', '/apps/0/name']));
    expect(JSON.stringify(validate.errors)).toContain('colour');
  });
});
