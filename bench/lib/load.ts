/**
 * A closed-loop HTTP load generator: `concurrency` workers each send the next request as soon
 * as their previous one is answered, over keep-alive connections, recording each latency.
 */
import { Agent, request } from 'node:http';

export interface LoadRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface LoadResult {
  /** Latency of each answered request, ms. */
  latencies: number[];
  /** Requests that did not get a 2xx (or failed on the socket). */
  errors: number;
  /** First few distinct error descriptions. */
  errorSamples: string[];
  elapsedMs: number;
  /** Answered 2xx per second over the whole run. */
  throughput: number;
}

export async function runLoad(options: {
  port: number;
  host?: string;
  total: number;
  concurrency: number;
  /** Builds request i (called right before it is sent: fresh timestamps and signatures). */
  make: (i: number) => LoadRequest;
}): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const latencies: number[] = [];
  const errorSamples = new Set<string>();
  let errors = 0;
  let next = 0;
  const send = (req: LoadRequest) =>
    new Promise<number>((resolve, reject) => {
      const r = request(
        {
          host: options.host ?? '127.0.0.1',
          port: options.port,
          method: 'POST',
          path: req.path,
          agent,
          headers: { ...req.headers, 'content-length': Buffer.byteLength(req.body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      r.on('error', reject);
      r.end(req.body);
    });
  const started = performance.now();
  const worker = async () => {
    while (next < options.total) {
      const i = next++;
      const req = options.make(i);
      const t0 = performance.now();
      try {
        const status = await send(req);
        if (status >= 200 && status < 300) latencies.push(performance.now() - t0);
        else {
          errors++;
          errorSamples.add(`HTTP ${status}`);
        }
      } catch (err) {
        errors++;
        errorSamples.add((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsedMs = performance.now() - started;
  agent.destroy();
  return {
    latencies,
    errors,
    errorSamples: [...errorSamples].slice(0, 3),
    elapsedMs,
    throughput: latencies.length / (elapsedMs / 1000),
  };
}
