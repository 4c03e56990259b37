/**
 * An `http` check: a request to a templated URL; it passes when the status is one expected and
 * the body matches (a regular expression, a value at a JSON path). A refused connection, a
 * timeout or a TLS error is a failed attempt, never a pass.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { meets, parseCondition } from './condition.js';
import { readJsonPath } from './json-path.js';
import { measure, networkError, shownUrl } from './measure.js';
import type { CheckResult, Measurement } from './result.js';
import { type HttpCheck, timeoutOf } from './schema.js';
import { fill, type TemplateVars } from './template.js';

const MAX_BODY = 1024 * 1024;

function agentFor(check: HttpCheck): Agent {
  const tls = check.tls;
  return new Agent({
    connect: {
      ...(tls?.caFile ? { ca: readFileSync(tls.caFile) } : {}),
      ...(tls?.serverName ? { servername: tls.serverName } : {}),
      rejectUnauthorized: !tls?.insecureSkipVerify,
    },
  });
}

function judge(check: HttpCheck, status: number, body: string): Measurement {
  const expected = Array.isArray(check.expect.status) ? check.expect.status : [check.expect.status];
  if (!expected.includes(status))
    return { status: 'failed', output: `status ${status}, expected ${expected.join(' or ')}` };
  if (check.expect.bodyMatches && !new RegExp(check.expect.bodyMatches).test(body))
    return { status: 'failed', output: `status ${status}, but the body does not match /${check.expect.bodyMatches}/` };
  const json = check.expect.json;
  if (json) {
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      return { status: 'failed', output: `status ${status}, but the body is not JSON` };
    }
    const value = readJsonPath(doc, json.path);
    const shown = JSON.stringify(value) ?? 'nothing';
    if (json.equals !== undefined && value !== json.equals)
      return { status: 'failed', output: `${json.path} is ${shown}, expected ${JSON.stringify(json.equals)}` };
    if (json.condition) {
      const c = parseCondition(json.condition)!;
      if (typeof value !== 'number' || !meets(value, c))
        return { status: 'failed', output: `${json.path} is ${shown}, expected ${c.text}` };
    }
    return { status: 'passed', output: `status ${status}, ${json.path} is ${shown}` };
  }
  return { status: 'passed', output: `status ${status}` };
}

export async function runHttpCheck(check: HttpCheck, vars: TemplateVars, signal?: AbortSignal): Promise<CheckResult> {
  const url = fill(check.url, vars, 'url');
  const where = `${check.method} ${shownUrl(url)}`;
  const agent = agentFor(check);
  const attempt = async (): Promise<Measurement> => {
    const timeout = AbortSignal.timeout(timeoutOf(check));
    try {
      const res = await request(url, {
        method: check.method,
        dispatcher: agent,
        headers: Object.fromEntries(Object.entries(check.headers).map(([k, v]) => [k, fill(v, vars)])),
        ...(check.body !== undefined ? { body: fill(check.body, vars) } : {}),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      let body = '';
      for await (const chunk of res.body) {
        if (body.length < MAX_BODY) body += (chunk as Buffer).toString('utf8');
      }
      const m = judge(check, res.statusCode, body);
      return { ...m, output: `${where}: ${m.output}` };
    } catch (err) {
      if (signal?.aborted) throw err;
      const why = timeout.aborted ? `timed out after ${timeoutOf(check)} ms` : networkError(err);
      return { status: 'failed', output: `${where}: ${why}` };
    }
  };
  try {
    return await measure(attempt, (m) => m.status !== 'passed', { ...check, signal });
  } finally {
    await agent.close().catch(() => undefined);
  }
}
