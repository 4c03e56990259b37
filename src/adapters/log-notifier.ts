/**
 * A Notifier for the sandbox and the CLI: notices are written as log lines (and kept in
 * memory for tests), so every flow works without a Slack workspace.
 */
import type { Logger } from 'pino';
import type { MessageRef, Notice, Notifier } from '../core/ports.js';

export class LogNotifier implements Notifier {
  readonly sent: { ref: MessageRef; notice: Notice; edit: boolean }[] = [];
  private seq = 0;

  constructor(
    private readonly log: Logger | null,
    private readonly out: ((line: string) => void) | null = null,
  ) {}

  async post(notice: Notice): Promise<MessageRef> {
    const ref = { channel: notice.channel, ts: `${Date.now()}.${String(++this.seq).padStart(6, '0')}` };
    this.sent.push({ ref, notice, edit: false });
    this.emit(notice, notice.thread ? 'thread' : 'post');
    return ref;
  }

  async update(ref: MessageRef, notice: Notice): Promise<void> {
    this.sent.push({ ref, notice, edit: true });
    this.emit(notice, 'update');
  }

  private emit(notice: Notice, kind: string): void {
    this.log?.info({ channel: notice.channel, kind }, notice.text);
    this.out?.(`[${notice.channel}] ${notice.text}`);
  }
}
