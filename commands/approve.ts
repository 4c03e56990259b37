import { z } from 'zod';
import { defineCommand } from '../src/core/command.js';
import { gateStatus } from '../src/core/gate-status.js';
import { renderOperation } from '../src/core/operation-view.js';
import { operationArg } from './args.js';

export const approve = defineCommand({
  name: 'approve',
  summary: 'Approve an operation waiting for a role you hold',
  usage: 'approve <operation-id>',
  help: 'Counts your approval for one role you hold that the operation still needs. The requester can never approve their own request; one person fills one role.',
  positionals: ['id'],
  flags: {},
  schema: z.object({ id: operationArg }),
  mutates: true,
  async run(args, ctx) {
    const { op, role } = await ctx.runtime.engine.approve(args.id, ctx.user);
    const reply = renderOperation(op, await gateStatus(ctx.runtime, op), [], {
      tagNamespace: ctx.runtime.git.get(op.app)?.tagNamespace,
    });
    return {
      ...reply,
      title: `${ctx.user} approved as ${role}. ${reply.title}`,
      ...(reply.operation ? { operation: { ...reply.operation, followUp: true } } : {}),
    };
  },
});
