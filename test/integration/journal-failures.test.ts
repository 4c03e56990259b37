/**
 * Seed 000 §5, one test per failure, each ending in a notice that says what to do:
 * §5.1 the change is not approved yet; §5.2 the upload fails until its retries are spent;
 * §5.3 the version endpoint fails after the upload — the notice names the exact
 * `journal register <object-key>` command, and running it fixes it. In §5.3 serve is out of
 * the watcher's reach altogether, so the notice goes to the cluster's Slack incoming webhook.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { LogNotifier } from '../../src/adapters/log-notifier.js';
import { buildObjectStore } from '../../src/compose.js';
import { parseConfig } from '../../src/config/load.js';
import { UpstreamError } from '../../src/core/errors.js';
import type { ChangeTickets, ObjectStore, TicketVerdict } from '../../src/core/ports.js';
import type { JournalExportWatcher, JournalLog } from '../../src/journal/export-watcher.js';
import { HttpVersionRegistry, type VersionRegistryClient } from '../../src/journal/version-registry.js';
import { watchNotifier } from '../../src/journal/watch-notices.js';
import {
  eventually,
  type JournalServer,
  type JournalWorkspace,
  makeJournalWorkspace,
  makeWatcher,
  startJournalServer,
} from '../support/journal-setup.js';
import { WebhookSink } from '../support/webhook-sink.js';

const TOKEN = 'tok-dev-modelling-5678';

class RecordingLog implements JournalLog {
  readonly lines: { level: string; msg: string; obj: object }[] = [];
  info(obj: object, msg = '') {
    this.lines.push({ level: 'info', msg, obj });
  }
  warn(obj: object, msg = '') {
    this.lines.push({ level: 'warn', msg, obj });
  }
  error(obj: object, msg = '') {
    this.lines.push({ level: 'error', msg, obj });
  }
  text(): string {
    return this.lines.map((l) => `${l.msg} ${JSON.stringify(l.obj)}`).join('\n');
  }
}

/** A URL where nothing listens: the watcher's view of a serve it cannot reach. */
async function deadUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

describe('seed 000 §5: every failure ends in a notice that says what to do', () => {
  let ws: JournalWorkspace;
  let srv: JournalServer;
  let notifier: LogNotifier;
  let sink: WebhookSink;
  let watcher: JournalExportWatcher | undefined;
  let n = 0;

  beforeAll(async () => {
    ws = await makeJournalWorkspace();
    const file = join(ws.sandboxDir, 'conveyor.yaml');
    const raw = parse(readFileSync(file, 'utf8'));
    raw.journal.registrars = ['tech-lead'];
    writeFileSync(file, stringify(raw));
    notifier = new LogNotifier(null);
    srv = await startJournalServer(ws, { JOURNAL_TOKENS: `dev-modelling=${TOKEN}` }, { notifier });
    sink = await WebhookSink.start();
  }, 60_000);
  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
  });
  afterAll(async () => {
    await sink?.close();
    await srv?.stop();
    ws?.remove();
  });

  /** A fresh export folder with one journal and its sidecar. */
  const exportFolder = (name: string, content: string): string => {
    const dir = join(ws.root, `exports-${++n}`);
    mkdirSync(dir);
    writeFileSync(join(dir, name), content);
    writeFileSync(join(dir, `${name}.meta.json`), JSON.stringify({ ticket: 'CHG0001234', mandators: ['tech-head'] }));
    return dir;
  };
  /** What journal-watch does with a notice: serve first, the webhook when serve is out of reach. */
  const notices = (log: JournalLog, botUrl = srv.baseUrl) =>
    watchNotifier({
      cluster: 'dev-modelling',
      toBot: async (body) => {
        const res = await fetch(`${botUrl}/api/journal/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (!res.ok) throw new UpstreamError('conveyor', `the bot answered HTTP ${res.status}`);
      },
      webhookUrl: `${sink.url}/services/T000/B000/XXXXSECRETXXXX`,
      log,
    });
  const announced = (pattern: RegExp) => notifier.sent.map((m) => m.notice.text).find((t) => pattern.test(t));
  const registered = async (file: string) =>
    ((await srv.api('GET', '/api/journal/versions')).json.versions as { file: string; version: string }[]).find(
      (v) => v.file === file,
    );

  it('§5.1 approval pending: says the change waits for approval and that the upload starts by itself; it does once approved', async () => {
    const verdicts = new Map<string, TicketVerdict>([['CHG0001234', 'pending']]);
    const tickets: ChangeTickets = {
      check: async (number) => ({
        number,
        verdict: verdicts.get(number) ?? 'missing',
        detail: `state=${verdicts.get(number)}`,
      }),
    };
    const dir = exportFolder('pending.dat', 'rate,1\n');
    const log = new RecordingLog();
    watcher = await makeWatcher(ws, srv, {
      cluster: 'dev-modelling',
      dir,
      token: TOKEN,
      tickets,
      ticketBackoff: { minTimeout: 50, maxTimeout: 100 },
      notify: notices(log),
    });
    await watcher.start();

    const notice = await eventually(() => announced(/pending\.dat waiting/), 'the waiting notice');
    expect(notice).toBe(
      'Journal export on dev-modelling: pending.dat waiting — change CHG0001234 is not approved yet (state=pending) — To do: get CHG0001234 approved in ServiceNow; pending.dat waits in the export folder and is uploaded by itself once it is (checked again with backoff)',
    );
    expect(existsSync(join(dir, 'pending.dat'))).toBe(true);
    expect(await registered('pending.dat')).toBeUndefined();
    // the same words in journal list's recent events
    expect(JSON.stringify((await srv.run('journal list', 'U_DEMO')).blocks)).toContain(
      'To do: get CHG0001234 approved in ServiceNow',
    );

    verdicts.set('CHG0001234', 'approved');
    await eventually(() => announced(/pending\.dat uploaded as /), 'the upload once approved');
    expect(await registered('pending.dat')).toBeDefined();
    expect(existsSync(join(dir, 'uploaded', 'pending.dat'))).toBe(true);
  });

  it('§5.2 upload failure with retries exhausted: the file stays, the notice says it is retried and what to check; it uploads once S3 is back', async () => {
    const config = parseConfig(stringify(parse(readFileSync(join(ws.sandboxDir, 'conveyor.yaml'), 'utf8'))));
    const real = await buildObjectStore(config, ws.sandboxDir);
    let s3Down = true;
    const objects: ObjectStore = {
      put: async (key, body, options) => {
        if (s3Down) {
          body.destroy();
          throw new UpstreamError('s3', `upload of ${key} to bucket appcore-journals failed: connect ETIMEDOUT`);
        }
        return real.put(key, body, options);
      },
      get: (key) => real.get(key),
      head: (key) => real.head(key),
      list: (prefix) => real.list(prefix),
    };
    const dir = exportFolder('s3down.dat', 'rate,2\n');
    const log = new RecordingLog();
    watcher = await makeWatcher(ws, srv, {
      cluster: 'dev-modelling',
      dir,
      token: TOKEN,
      objects,
      retryLaterMs: 300,
      log,
      notify: notices(log),
    });
    await watcher.start();

    const notice = await eventually(() => announced(/s3down\.dat failed/), 'the failure notice');
    expect(notice).toMatch(
      /^Journal export on dev-modelling: s3down\.dat failed as \S+ — upload of s3down\.dat failed after 3 attempts: upload of journals\/dev-modelling\/\S+\/s3down\.dat to bucket appcore-journals failed: connect ETIMEDOUT/,
    );
    expect(notice).toContain(
      "To do: s3down.dat stays in the export folder and is tried again every 1 s; check the bucket and this cluster's S3 credentials",
    );
    expect(existsSync(join(dir, 's3down.dat'))).toBe(true);
    expect(log.lines.some((l) => l.level === 'error' && /upload of s3down\.dat failed/.test(l.msg))).toBe(true);

    s3Down = false;
    await eventually(() => announced(/s3down\.dat uploaded as /), 'the upload once S3 is back', 30_000);
    expect(await registered('s3down.dat')).toBeDefined();
    expect(existsSync(join(dir, 'uploaded', 's3down.dat'))).toBe(true);
  });

  it('§5.3 version endpoint failure: serve out of reach, the notice goes to the Slack webhook naming journal register <key>, which fixes it', async () => {
    const dead = await deadUrl();
    const live = new HttpVersionRegistry({ baseUrl: srv.baseUrl, token: TOKEN });
    // the endpoint is gone after the upload (version numbering was asked before it)
    const registry: VersionRegistryClient = {
      latestForDay: (cluster, day) => live.latestForDay(cluster, day),
      register: (v) => new HttpVersionRegistry({ baseUrl: dead, token: TOKEN }).register(v),
    };
    const dir = exportFolder('noendpoint.dat', 'rate,3\n');
    const log = new RecordingLog();
    const before = sink.received.length;
    watcher = await makeWatcher(ws, srv, {
      cluster: 'dev-modelling',
      dir,
      token: TOKEN,
      registry,
      notify: notices(log, dead),
    });
    await watcher.start();

    const posted = await eventually(
      () => sink.received.slice(before).find((r) => r.body.includes('noendpoint.dat failed')),
      'the webhook notice',
    );
    expect(posted.path).toBe('/services/T000/B000/XXXXSECRETXXXX');
    const text = (JSON.parse(posted.body) as { text: string }).text;
    expect(text).toMatch(
      /^Journal export on dev-modelling: noendpoint\.dat failed as \S+ — registration of \S+ failed after 3 attempts: version endpoint unreachable/,
    );
    const command =
      /To do: .*or a registrar runs now: (journal register journals\/dev-modelling\/\S+\/noendpoint\.dat)$/.exec(
        text,
      )?.[1];
    expect(command).toBeDefined();
    // the watcher's log says where the notice went (written once the webhook answered), never the webhook's URL
    await eventually(
      () =>
        log.lines.some(
          (l) => l.msg === "serve is unreachable: the notice was posted to this cluster's Slack webhook instead",
        ) || undefined,
      'the log line naming the webhook',
    );
    expect(log.text()).not.toContain('XXXXSECRETXXXX');
    expect(await registered('noendpoint.dat')).toBeUndefined();

    // a registrar runs exactly that command: registered, the chain follows
    const fixed = await srv.run(command!, 'U_LEAD');
    expect(fixed.status).toBe('ok');
    const v = (await registered('noendpoint.dat')) as unknown as Record<'version' | 'exportedAt', string>;
    expect(v).toMatchObject({ uploadedBy: 'U_LEAD by hand' });
    expect(v.exportedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    await eventually(
      () => announced(new RegExp(`Journal ${v.version.replace(/\./g, '\\.')} registered by hand by U_LEAD`)),
      'the notice of the registration by hand',
    );
    expect((await srv.status()).dev?.pointsAt).toContain(v.version);
  });
});
