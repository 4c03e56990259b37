import { z } from 'zod';
import { defineCommand } from '../src/core/command.js';
import { renderOperation } from '../src/core/operation-view.js';
import { operationArg, reasonArg } from './args.js';

export const reject = defineCommand({
  name: 'reject',
  summary: 'Reject an operation; one rejection ends it',
  usage: 'reject <operation-id> [reason…]',
  help: 'An approver of the operation rejects it (the requester withdraws it). One rejection ends the operation. A reject that was done exits 0 (the operation state says rejected or cancelled); one that was refused exits 1.',
  positionals: ['id', 'reason...'],
  flags: {},
  schema: z.object({ id: operationArg, reason: reasonArg.optional() }),
  mutates: true,
  async run(args, ctx) {
    const op = await ctx.runtime.engine.reject(args.id, ctx.user, args.reason ?? null);
    // The reject was done: that is success (exit 0), whatever it did to the operation.
    const reply = renderOperation(op);
    return {
      ...reply,
      status: 'ok',
      ...(reply.operation ? { operation: { ...reply.operation, followUp: true } } : {}),
    };
  },
});
