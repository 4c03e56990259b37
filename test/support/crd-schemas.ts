/**
 * The vendored CRDs of the GitOps appliers (test/fixtures/crds/, sources in SOURCES.md there) as
 * ajv validators of their served version's `openAPIV3Schema`: what the real API server would
 * accept for an Argo CD Application, a Flux Kustomization or HelmRelease.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats;

const DIR = join(import.meta.dirname, '..', 'fixtures', 'crds');
export const CRD_FILES: Record<string, { file: string; version: string }> = {
  Application: { file: 'argoproj.io_applications.yaml', version: 'v1alpha1' },
  Kustomization: { file: 'kustomize.toolkit.fluxcd.io_kustomizations.yaml', version: 'v1' },
  HelmRelease: { file: 'helm.toolkit.fluxcd.io_helmreleases.yaml', version: 'v2' },
};

const cache = new Map<string, ValidateFunction>();

/** Kubernetes' structural-schema extensions, which are no JSON Schema keywords. */
const EXTENSIONS = [
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
  'x-kubernetes-embedded-resource',
];

export function crdValidator(kind: string): ValidateFunction {
  const known = cache.get(kind);
  if (known) return known;
  const source = CRD_FILES[kind];
  if (!source) throw new Error(`no vendored CRD for ${kind}`);
  const crd = parse(readFileSync(join(DIR, source.file), 'utf8'));
  const version = crd.spec.versions.find((v: { name: string }) => v.name === source.version);
  if (!version?.schema?.openAPIV3Schema) throw new Error(`${source.file} has no ${source.version} schema`);
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  for (const k of EXTENSIONS) ajv.addKeyword(k);
  const validate = ajv.compile(version.schema.openAPIV3Schema);
  cache.set(kind, validate);
  return validate;
}

/** The schema's complaints about `obj`, one line each ([] when the API server would take it). */
export function crdProblems(obj: Record<string, unknown>): string[] {
  const validate = crdValidator(String(obj.kind));
  if (validate(obj)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim());
}
