/**
 * The webhook notifiers against a real loopback receiver: Slack incoming webhooks through
 * @slack/webhook, and the generic JSON webhook signed with HMAC-SHA256 over "<timestamp>.<body>".
 */
import { IncomingWebhook } from '@slack/webhook';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JsonWebhookNotifier,
  SlackWebhookNotifier,
  verifyConveyorSignature,
} from '../../src/adapters/webhook-notifier.js';
import { WebhookSink } from '../support/webhook-sink.js';

describe('webhook notifiers', () => {
  let sink: WebhookSink;
  beforeAll(async () => {
    sink = await WebhookSink.start();
  });
  afterAll(async () => sink?.close());

  it('posts to a Slack incoming webhook per channel', async () => {
    const notifier = new SlackWebhookNotifier({ '#deploys-qa': new IncomingWebhook(`${sink.url}/services/T0/B0/x`) });
    expect(await notifier.post({ channel: '#deploys-qa', text: 'api in qa (cluster kind-eu) is healthy' })).toBeNull();
    expect(await notifier.post({ channel: '#elsewhere', text: 'nobody listens' })).toBeNull();
    const got = sink.received.filter((r) => r.path === '/services/T0/B0/x');
    expect(got).toHaveLength(1);
    expect(JSON.parse(got[0]!.body)).toMatchObject({ text: 'api in qa (cluster kind-eu) is healthy' });
  });

  it('signs generic JSON webhooks, retries server errors, and a receiver can tell a forgery', async () => {
    const secret = 'json-webhook-secret';
    const notifier = new JsonWebhookNotifier({
      routes: { '*': { url: `${sink.url}/hooks/conveyor`, secret } },
      minTimeoutMs: 10,
    });
    sink.failNext(1, 503);
    const ref = await notifier.post({ channel: '#deploys-prod', text: 'api in prod (cluster prod-eu) FAILED' });
    expect(ref?.channel).toBe('#deploys-prod');
    const got = sink.received.filter((r) => r.path === '/hooks/conveyor');
    expect(got).toHaveLength(1);
    const [req] = got;
    const headers = {
      timestamp: req!.headers['x-conveyor-timestamp'] as string,
      signature: req!.headers['x-conveyor-signature'] as string,
    };
    expect(headers.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyConveyorSignature(secret, headers, req!.body)).toBe(true);
    expect(JSON.parse(req!.body)).toMatchObject({
      type: 'post',
      id: ref!.ts,
      channel: '#deploys-prod',
      text: 'api in prod (cluster prod-eu) FAILED',
    });
    expect(verifyConveyorSignature('another-secret', headers, req!.body)).toBe(false);
    expect(verifyConveyorSignature(secret, headers, req!.body.replace('FAILED', 'healthy'))).toBe(false);
    expect(verifyConveyorSignature(secret, headers, req!.body, Date.now() + 3_600_000)).toBe(false); // replayed an hour later
  });
});
