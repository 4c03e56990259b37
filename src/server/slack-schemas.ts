/**
 * What a Slack request body must look like before any listener sees it. Slack signs what it
 * sends, but a signed body can still be `payload=null`, miss a field or repeat one: each
 * shape here is checked at the edge (slack-receiver.ts) and anything else is a 400.
 * Only the fields Conveyor reads are required; the rest pass through untouched.
 */
import { z } from 'zod';

const id = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a Slack id');
const url = z.string().max(1000).url();

/** Form fields of a slash command (application/x-www-form-urlencoded, no `payload`). */
export const slashCommandBody = z.looseObject({
  command: z.string().regex(/^\/[a-z0-9_-]{1,40}$/i, 'a slash command'),
  text: z.string().max(4000),
  user_id: id,
  channel_id: id,
  team_id: id,
  trigger_id: z.string().min(1).max(200),
  response_url: url,
  channel_name: z.string().max(200).optional(),
});

const userRef = z.looseObject({ id });
const teamRef = z.looseObject({ id }).nullable().optional();

const blockActions = z.looseObject({
  type: z.literal('block_actions'),
  user: userRef,
  team: teamRef,
  trigger_id: z.string().min(1).max(200),
  actions: z
    .array(z.looseObject({ action_id: z.string().min(1).max(255), value: z.string().max(2000).optional() }))
    .min(1)
    .max(5),
  channel: z.looseObject({ id }).nullable().optional(),
  container: z.looseObject({}).nullable().optional(),
  view: z
    .looseObject({ type: z.string().max(40) })
    .nullable()
    .optional(),
});

const viewSubmission = z.looseObject({
  type: z.literal('view_submission'),
  user: userRef,
  team: teamRef,
  view: z.looseObject({
    id: z.string().min(1).max(100),
    callback_id: z.string().max(255),
    private_metadata: z.string().max(3000),
    state: z.looseObject({ values: z.record(z.string(), z.record(z.string(), z.looseObject({}))) }),
  }),
});

const viewClosed = z.looseObject({ type: z.literal('view_closed'), user: userRef });

/** `payload=<json>` of interactivity: the kinds Conveyor answers. */
export const interactionPayload = z.discriminatedUnion('type', [blockActions, viewSubmission, viewClosed]);

/** JSON bodies of the Events API. */
export const eventsBody = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('url_verification'), challenge: z.string().min(1).max(200) }),
  z.looseObject({
    type: z.literal('event_callback'),
    event_id: z.string().min(1).max(100).optional(),
    event: z.looseObject({ type: z.string().min(1).max(100), user: id.optional(), tab: z.string().max(40).optional() }),
  }),
  z.looseObject({ type: z.literal('app_rate_limited') }),
]);
