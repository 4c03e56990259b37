/**
 * Email and Microsoft Teams notifications driven by real promotions on the sandbox runtime:
 * email through a real SMTP server (`smtp-server` on loopback, with a login read from
 * SMTP_PASSWORD_FILE), Teams through a loopback webhook receiver whose cards are checked against
 * Microsoft's official Adaptive Card 1.4 schema. Retries, the failure metric, and the startup
 * errors of a bad configuration.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Dispatcher } from '../../src/core/dispatcher.js';
import type { ConfigError } from '../../src/core/errors.js';
import { teamsMessageProblems } from '../support/adaptive-card-check.js';
import { head } from '../support/git-helpers.js';
import { makeRuntime, type TestRuntime } from '../support/runtime.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { WebhookSink } from '../support/webhook-sink.js';

const SMTP_PASSWORD = 'smtp-password-never-shown';
const TEAMS_SIG = 'sig-teams-secret-part';

interface Card {
  body: { type: string; text?: string; color?: string; facts?: { title: string; value: string }[] }[];
  actions?: { type: string; title: string; url: string }[];
}

describe('email and Teams notifications', () => {
  let t: TestRuntime;
  let smtp: SmtpSink;
  let teams: WebhookSink;
  let secretDir: string;

  const cards = (path: string) =>
    teams.received
      .filter((r) => r.path === path)
      .map((r) => {
        const message = JSON.parse(r.body);
        expect(teamsMessageProblems(message)).toEqual([]);
        return message.attachments[0].content as Card;
      });
  const facts = (card: Card) =>
    Object.fromEntries((card.body.find((b) => b.type === 'FactSet')?.facts ?? []).map((f) => [f.title, f.value]));
  /** Run a command, then wait for the sinks' deliveries (they go out in the background). */
  const run = async (text: string, user?: string) => {
    const reply = await t.run(text, user);
    await t.runtime.notifier?.flush?.();
    return reply;
  };
  const failures = async () =>
    (await t.runtime.metrics.registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith('conveyor_notification_failures_total{'));

  beforeAll(async () => {
    [smtp, teams] = await Promise.all([SmtpSink.start({ user: 'conveyor', pass: SMTP_PASSWORD }), WebhookSink.start()]);
    secretDir = mkdtempSync(join(tmpdir(), 'conveyor-smtp-secret-'));
    writeFileSync(join(secretDir, 'smtp-password'), `${SMTP_PASSWORD}\n`);
    t = await makeRuntime({
      edit: (raw) => {
        const env = (name: string) => raw.environments.find((e: { name: string }) => e.name === name);
        env('qa').email = { to: ['dev-team@example.com'] };
        env('qa').teams = { urlEnv: 'TEAMS_QA_WEBHOOK' };
        env('staging').email = { to: ['qa-team@example.com'], cc: ['release@example.com'] };
        env('staging').teams = { urlEnv: 'TEAMS_STAGING_WEBHOOK' };
        raw.notify = {
          email: { smtp: { host: '127.0.0.1', port: smtp.port }, from: 'Conveyor <conveyor@example.com>', retries: 2 },
        };
        raw.slack = {
          ...(raw.slack ?? {}),
          gitWeb: {
            commit: 'https://git.example.com/{app}/commit/{sha}',
            compare: 'https://git.example.com/{app}/compare/{from}...{to}',
          },
        };
      },
      extra: {
        env: {
          SMTP_USER: 'conveyor',
          SMTP_PASSWORD_FILE: join(secretDir, 'smtp-password'),
          TEAMS_QA_WEBHOOK: `${teams.url}/webhookb2/qa/IncomingWebhook/${TEAMS_SIG}`,
          TEAMS_STAGING_WEBHOOK: `${teams.url}/webhookb2/staging/IncomingWebhook/${TEAMS_SIG}`,
        },
      },
    });
  });
  afterAll(async () => {
    await Promise.all([t?.close(), smtp?.close(), teams?.close()]);
    if (secretDir) rmSync(secretDir, { recursive: true, force: true });
  });

  it('a gated promotion emails and posts a card when it waits for approval and when it succeeds', async () => {
    const asked = await run('promote api staging', 'U_DEMO');
    const id = asked.operation!.id;
    expect(asked.operation?.state).toBe('awaiting-approval');

    const waiting = smtp.received.filter((m) => m.to.includes('qa-team@example.com'));
    expect(waiting).toHaveLength(1);
    expect(smtp.logins).toContain('conveyor'); // logged in with the password from SMTP_PASSWORD_FILE
    const [first] = waiting;
    expect(first!.to).toEqual(['qa-team@example.com', 'release@example.com']);
    expect(first!.headers.from).toContain('conveyor@example.com');
    expect(first!.subject).toBe(`[Conveyor] api in staging: waiting for approval (promote ${id})`);
    expect(first!.text).toContain(`Operation: promote ${id}`);
    expect(first!.text).toContain('Requested by: U_DEMO');
    expect(first!.text).toMatch(/Approval \(qa-lead\): 0\/1; waiting for U_QA/);
    expect(first!.html).toContain('<th align="left">Environment</th><td>staging</td>');

    let [card] = cards('/webhookb2/staging/IncomingWebhook/sig-teams-secret-part');
    expect(facts(card!)).toMatchObject({
      Operation: `promote ${id}`,
      App: 'api',
      Environment: 'staging',
      State: 'waiting for approval',
    });

    const approved = await run(`approve ${id}`, 'U_QA');
    expect(approved.operation?.state).toBe('succeeded');
    const sha = head(t.repo('api'), 'staging');

    const mails = smtp.received.filter((m) => m.to.includes('qa-team@example.com'));
    // The states in between (approved, applying, applied) send nothing by default.
    expect(mails.map((m) => m.subject)).toEqual([
      `[Conveyor] api in staging: waiting for approval (promote ${id})`,
      `[Conveyor] api in staging: succeeded (promote ${id})`,
    ]);
    const done = mails[1]!;
    expect(done.text).toMatch(/Approval \(qa-lead\): 1\/1 by U_QA/);
    expect(done.text).toContain(`Commit ${sha.slice(0, 8)}: https://git.example.com/api/commit/${sha}`);
    expect(done.html).toContain(`<a href="https://git.example.com/api/commit/${sha}">`);

    const staging = cards('/webhookb2/staging/IncomingWebhook/sig-teams-secret-part');
    expect(staging).toHaveLength(2);
    card = staging[1];
    expect(facts(card!).State).toBe('succeeded');
    expect(card!.body[0]).toMatchObject({ type: 'TextBlock', color: 'Good' });
    expect(card!.actions).toContainEqual({
      type: 'Action.OpenUrl',
      title: `Commit ${sha.slice(0, 8)}`,
      url: `https://git.example.com/api/commit/${sha}`,
    });
    // qa was not touched: nobody there heard of it.
    expect(smtp.received.filter((m) => m.to.includes('dev-team@example.com'))).toHaveLength(0);
    expect(cards('/webhookb2/qa/IncomingWebhook/sig-teams-secret-part')).toHaveLength(0);
    expect(await failures()).toEqual([]);
    // The password travels only in the AUTH exchange, never in a message.
    expect(smtp.received.some((m) => m.raw.includes(SMTP_PASSWORD))).toBe(false);
  });

  it('a request made in Slack sends its first state too (the Slack reply is the message), then the rest', async () => {
    const dispatcher = new Dispatcher(t.runtime);
    const asked = await dispatcher.execute({
      text: 'promote web staging',
      user: 'U_DEMO',
      source: 'slack',
      channel: 'C0DEPLOYS1',
    });
    await t.runtime.notifier?.flush?.();
    expect(asked.operation?.state).toBe('awaiting-approval');
    const id = asked.operation!.id;
    const subjects = () => smtp.received.filter((m) => m.subject.includes(id)).map((m) => m.subject);
    expect(subjects()).toEqual([`[Conveyor] web in staging: waiting for approval (promote ${id})`]);
    // Slack posts the reply and attaches it as the operation's message; later states edit it.
    await dispatcher.attachMessage(id, { channel: 'C0DEPLOYS1', ts: '1700000000.000100' }, 'awaiting-approval');
    expect((await run(`approve ${id}`, 'U_QA')).operation?.state).toBe('succeeded');
    expect(subjects()).toEqual([
      `[Conveyor] web in staging: waiting for approval (promote ${id})`,
      `[Conveyor] web in staging: succeeded (promote ${id})`,
    ]);
    const staging = cards('/webhookb2/staging/IncomingWebhook/sig-teams-secret-part').filter(
      (c) => facts(c).Operation === `promote ${id}`,
    );
    expect(staging.map((c) => facts(c).State)).toEqual(['waiting for approval', 'succeeded']);
  });

  it('retries a temporary SMTP refusal and a Teams 503, and counts what is given up on without failing the promotion', async () => {
    smtp.refuseNext(1, 451);
    teams.failNext(1, 503);
    const first = await run('promote api qa', 'U_DEMO');
    expect(first.operation?.state).toBe('succeeded');
    expect(smtp.received.filter((m) => m.to.includes('dev-team@example.com')).map((m) => m.subject)).toEqual([
      `[Conveyor] api in qa: succeeded (promote ${first.operation!.id})`,
    ]);
    expect(cards('/webhookb2/qa/IncomingWebhook/sig-teams-secret-part')).toHaveLength(1);
    expect(await failures()).toEqual([]);

    smtp.refuseNext(1, 550); // refused for good: not retried
    teams.failNext(1, 400); // a bad request: not retried
    const second = await run('promote web qa', 'U_DEMO');
    expect(second.operation?.state).toBe('succeeded'); // a sink's failure never fails the operation
    expect(smtp.received.filter((m) => m.subject.includes(second.operation!.id))).toHaveLength(0);
    expect(cards('/webhookb2/qa/IncomingWebhook/sig-teams-secret-part')).toHaveLength(1);
    expect((await failures()).sort()).toEqual([
      'conveyor_notification_failures_total{sink="email",env="qa"} 1',
      'conveyor_notification_failures_total{sink="teams",env="qa"} 1',
    ]);
  });
});

describe('email and Teams configuration', () => {
  const base = `environments:
  - name: dev
    branch: develop
  - name: qa
    branch: qa
    email: { to: [qa@example.com] }
`;

  it('refuses email for an environment without an SMTP server, and a bad address, in one line each', () => {
    const problems = (text: string) => {
      try {
        parseConfig(text);
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    };
    expect(problems(base)).toEqual([expect.stringMatching(/email needs an SMTP server: add notify\.email/)]);
    expect(problems(base)[0]).toContain('environments');
    expect(problems(base.replace('qa@example.com', 'not-an-address'))).toContainEqual(
      expect.stringMatching(/an email address such as ops@example\.com/),
    );
    expect(
      parseConfig(`${base}notify:\n  email: { smtp: { host: smtp.example.com }, from: conveyor@example.com }\n`)
        .environments[1]?.email?.on,
    ).toEqual(['awaiting-approval', 'succeeded', 'failed', 'rejected', 'expired', 'cancelled']);
  });

  it('will not start when a Teams webhook variable is missing, naming the variable and not a value', async () => {
    await expect(
      makeRuntime({
        edit: (raw) => {
          raw.environments[1].teams = { urlEnv: 'TEAMS_MISSING' };
        },
      }),
    ).rejects.toThrow(
      'environments qa: teams.urlEnv names TEAMS_MISSING, but neither TEAMS_MISSING nor TEAMS_MISSING_FILE is set',
    );
  });
});
