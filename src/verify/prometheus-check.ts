/**
 * A `prometheus` check, the shape of an Argo Rollouts AnalysisTemplate metric: a templated
 * PromQL query asked `count` times, `interval` apart, over Prometheus's HTTP API
 * (`/api/v1/query`). A measurement passes when every sample meets `successCondition` (and none
 * meets `failureCondition`); an empty result is `inconclusive`; a server that cannot be reached
 * after the retries is a failed measurement, never a pass.
 */
import { request } from 'undici';
import { z } from 'zod';
import { meets, parseCondition } from './condition.js';
import { measure, networkError, shownUrl } from './measure.js';
import type { CheckResult, Measurement } from './result.js';
import { type PrometheusCheck, timeoutOf } from './schema.js';
import { fill, type TemplateVars } from './template.js';

const sample = z.tuple([z.number(), z.string()]);
const answer = z.object({
  status: z.enum(['success', 'error']),
  error: z.string().optional(),
  data: z
    .discriminatedUnion('resultType', [
      z.object({
        resultType: z.literal('vector'),
        result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: sample })),
      }),
      z.object({
        resultType: z.literal('matrix'),
        result: z.array(z.object({ metric: z.record(z.string(), z.string()), values: z.array(sample) })),
      }),
      z.object({ resultType: z.literal('scalar'), result: sample }),
      z.object({ resultType: z.literal('string'), result: sample }),
    ])
    .optional(),
});

/** Each series' latest value, named by its labels. */
function valuesOf(data: NonNullable<z.infer<typeof answer>['data']>): { name: string; value: number }[] {
  const label = (m: Record<string, string>) =>
    `{${Object.entries(m)
      .filter(([k]) => k !== '__name__')
      .map(([k, v]) => `${k}="${v}"`)
      .join(',')}}`;
  switch (data.resultType) {
    case 'vector':
      return data.result.map((r) => ({ name: label(r.metric), value: Number(r.value[1]) }));
    case 'matrix':
      return data.result
        .filter((r) => r.values.length)
        .map((r) => ({ name: label(r.metric), value: Number(r.values[r.values.length - 1]![1]) }));
    case 'scalar':
    case 'string':
      return [{ name: 'scalar', value: Number(data.result[1]) }];
  }
}

export function judgeValues(check: PrometheusCheck, values: { name: string; value: number }[]): Measurement {
  const shown = values
    .slice(0, 3)
    .map((v) => (values.length === 1 ? String(v.value) : `${v.name} ${v.value}`))
    .join(', ');
  if (!values.length || values.every((v) => Number.isNaN(v.value)))
    return { status: 'inconclusive', output: 'the query returned no data' };
  const success = parseCondition(check.successCondition)!;
  const failure = check.failureCondition ? parseCondition(check.failureCondition) : null;
  const failing = values.find((v) => (failure && meets(v.value, failure)) || !meets(v.value, success));
  if (failing)
    return {
      status: 'failed',
      output: `${values.length === 1 ? `value ${failing.value}` : `${failing.name} is ${failing.value}`}, expected ${success.text}${failure ? ` and not ${failure.text}` : ''}`,
    };
  return { status: 'passed', output: `value ${shown} ${success.text.split(' ')[0]} ${success.value}` };
}

class QueryError extends Error {}

async function query(check: PrometheusCheck, promql: string, signal?: AbortSignal) {
  const url = `${check.address.replace(/\/+$/, '')}/api/v1/query`;
  const timeout = AbortSignal.timeout(timeoutOf(check));
  try {
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: promql }).toString(),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const text = await res.body.text();
    let parsed: z.infer<typeof answer>;
    try {
      parsed = answer.parse(JSON.parse(text));
    } catch {
      throw new QueryError(`Prometheus at ${shownUrl(url)} answered HTTP ${res.statusCode} without a query result`);
    }
    if (parsed.status === 'error' || !parsed.data)
      throw new QueryError(`Prometheus refused the query: ${(parsed.error ?? `HTTP ${res.statusCode}`).slice(0, 200)}`);
    return valuesOf(parsed.data);
  } catch (err) {
    if (signal?.aborted || err instanceof QueryError) throw err;
    throw new QueryError(
      `cannot query Prometheus at ${shownUrl(url)}: ${timeout.aborted ? `timed out after ${timeoutOf(check)} ms` : networkError(err)}`,
    );
  }
}

export async function runPrometheusCheck(
  check: PrometheusCheck,
  vars: TemplateVars,
  signal?: AbortSignal,
  onMeasurement?: (m: Measurement, index: number) => void | Promise<void>,
): Promise<CheckResult> {
  const promql = fill(check.query, vars, 'promql');
  let errored = false;
  const attempt = async (): Promise<Measurement> => {
    errored = false;
    try {
      return judgeValues(check, await query(check, promql, signal));
    } catch (err) {
      if (!(err instanceof QueryError)) throw err;
      errored = true;
      return { status: 'failed', output: err.message };
    }
  };
  // Only a query that could not be made is tried again; a value is a measurement.
  return measure(attempt, () => errored, { ...check, signal, onMeasurement });
}
