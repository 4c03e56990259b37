/** Prometheus metrics (prom-client), one registry per runtime, served at /metrics. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly commands = new Counter({ name: 'conveyor_commands_total', help: 'Chat commands by name and outcome', labelNames: ['command', 'outcome'], registers: [this.registry] });
  readonly operations = new Histogram({
    name: 'conveyor_operation_duration_seconds',
    help: 'Time from request to a final state, by kind and result',
    labelNames: ['kind', 'result'],
    buckets: [1, 5, 30, 60, 300, 900, 3600, 14_400, 86_400],
    registers: [this.registry],
  });
  readonly approvalsPending = new Gauge({ name: 'conveyor_approvals_pending', help: 'Operations waiting for approval', registers: [this.registry] });
  readonly githubRateLimit = new Gauge({ name: 'conveyor_github_rate_limit_remaining', help: 'GitHub primary rate limit left, from the last response', registers: [this.registry] });
  readonly watchReconnects = new Counter({ name: 'conveyor_watch_reconnects_total', help: 'Watch reconnects by kind and target', labelNames: ['kind', 'target'], registers: [this.registry] });
  readonly journalUploads = new Counter({ name: 'conveyor_journal_uploads_total', help: 'Journal export results by cluster and result', labelNames: ['cluster', 'result'], registers: [this.registry] });
  readonly journalImports = new Counter({ name: 'conveyor_journal_imports_total', help: 'Journal import reports by environment and result', labelNames: ['env', 'result'], registers: [this.registry] });
  readonly slackErrors = new Counter({ name: 'conveyor_slack_api_errors_total', help: 'Slack Web API errors by method and error', labelNames: ['method', 'error'], registers: [this.registry] });

  constructor(options: { defaults?: boolean } = {}) {
    if (options.defaults) collectDefaultMetrics({ register: this.registry, prefix: 'conveyor_' });
  }

  /** Command name for the label: the first word(s) of a known command, else "unknown". */
  static commandLabel(text: string): string {
    const words = text.trim().toLowerCase().split(/\s+/);
    if (words[0] === 'journal' && /^(list|status|promote|rollback)$/.test(words[1] ?? '')) return `journal ${words[1]}`;
    return /^(promote|rollback|diff|list|history|approve|reject|lock|unlock|help)$/.test(words[0] ?? '') ? words[0]! : 'unknown';
  }
}
