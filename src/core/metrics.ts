/**
 * Prometheus metrics (prom-client), one registry per runtime, served at /metrics.
 * Node's default process metrics keep their standard, unprefixed names (`process_*`,
 * `nodejs_*`), so the usual Node.js dashboards work. Gauges that only a remote system can feed
 * (the GitHub rate limit, leadership) are absent until they have a value, never a made-up 0.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** A gauge registered on its first `set`: absent from /metrics until then. */
export class LateGauge<L extends string = string> {
  private registered = false;
  readonly gauge: Gauge<L>;

  constructor(
    private readonly registry: Registry,
    config: { name: string; help: string; labelNames?: readonly L[] },
  ) {
    this.gauge = new Gauge<L>({ ...config, registers: [] });
  }

  set(value: number): void;
  set(labels: Partial<Record<L, string | number>>, value: number): void;
  set(a: number | Partial<Record<L, string | number>>, b?: number): void {
    if (!this.registered) {
      this.registry.registerMetric(this.gauge);
      this.registered = true;
    }
    if (typeof a === 'number') this.gauge.set(a);
    else this.gauge.set(a, b!);
  }
}

export class Metrics {
  readonly registry = new Registry();
  readonly commands = new Counter({
    name: 'conveyor_commands_total',
    help: 'Chat commands by name and outcome',
    labelNames: ['command', 'outcome'],
    registers: [this.registry],
  });
  readonly operations = new Histogram({
    name: 'conveyor_operation_duration_seconds',
    help: 'Time from request to a final state, by kind and result',
    labelNames: ['kind', 'result'],
    buckets: [1, 5, 30, 60, 300, 900, 3600, 14_400, 86_400],
    registers: [this.registry],
  });
  /** Promotions and rollbacks that reached a final state, per app and environment. */
  readonly deploys = new Counter({
    name: 'conveyor_deploys_total',
    help: 'Promotions and rollbacks that reached a final state, by app, environment, kind and result',
    labelNames: ['app', 'env', 'kind', 'result'],
    registers: [this.registry],
  });
  readonly deployDuration = new Histogram({
    name: 'conveyor_deploy_duration_seconds',
    help: 'Time from request to a final state of promotions and rollbacks, by app and environment',
    labelNames: ['app', 'env'],
    buckets: [1, 5, 30, 60, 300, 900, 3600, 14_400, 86_400],
    registers: [this.registry],
  });
  readonly approvalsPending = new Gauge({
    name: 'conveyor_approvals_pending',
    help: 'Operations waiting for approval',
    registers: [this.registry],
  });
  readonly githubRateLimit = new LateGauge(this.registry, {
    name: 'conveyor_github_rate_limit_remaining',
    help: 'GitHub primary rate limit left, from the last response',
  });
  /** 1 while this replica leads (runs the watches), 0 while it follows; absent before the first election. */
  readonly leader = new LateGauge(this.registry, {
    name: 'conveyor_leader',
    help: '1 while this replica is the leader that runs the watches, else 0',
  });
  /** Email, Teams and GitHub deployment notices given up on after their retries, by sink and environment. */
  readonly notificationFailures = new Counter({
    name: 'conveyor_notification_failures_total',
    help: 'Notifications (email, Teams, GitHub deployments) that failed after their retries, by sink and environment',
    labelNames: ['sink', 'env'],
    registers: [this.registry],
  });
  readonly watchReconnects = new Counter({
    name: 'conveyor_watch_reconnects_total',
    help: 'Watch reconnects by kind and target',
    labelNames: ['kind', 'target'],
    registers: [this.registry],
  });
  readonly journalUploads = new Counter({
    name: 'conveyor_journal_uploads_total',
    help: 'Journal export results by cluster and result',
    labelNames: ['cluster', 'result'],
    registers: [this.registry],
  });
  readonly journalImports = new Counter({
    name: 'conveyor_journal_imports_total',
    help: 'Journal import reports by environment and result',
    labelNames: ['env', 'result'],
    registers: [this.registry],
  });
  readonly faults = new Counter({
    name: 'conveyor_faults_total',
    help: 'Requests answered 5xx, and exceptions or rejections the process guard contained',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly slackBusy = new Counter({
    name: 'conveyor_slack_busy_total',
    help: 'Slash commands answered "busy" because the work queue after acks was full',
    registers: [this.registry],
  });
  readonly slackErrors = new Counter({
    name: 'conveyor_slack_api_errors_total',
    help: 'Slack Web API errors by method and error',
    labelNames: ['method', 'error'],
    registers: [this.registry],
  });

  readonly repoPollPasses = new Histogram({
    name: 'conveyor_repo_poll_pass_seconds',
    help: "Passes of the controller's repository poller, by duration (passes never overlap; compare with git.pollInterval)",
    buckets: [1, 5, 15, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly repoPollOverruns = new Counter({
    name: 'conveyor_repo_poll_overruns_total',
    help: 'Repository poll passes that took longer than git.pollInterval (the next pass waited for them)',
    registers: [this.registry],
  });

  constructor(options: { defaults?: boolean } = {}) {
    if (options.defaults) collectDefaultMetrics({ register: this.registry });
  }

  /** Command name for the label: the first word(s) of a known command, else "unknown". */
  static commandLabel(text: string): string {
    const words = text.trim().toLowerCase().split(/\s+/);
    if (words[0] === 'journal' && /^(list|status|promote|rollback)$/.test(words[1] ?? '')) return `journal ${words[1]}`;
    return /^(promote|rollback|diff|list|history|approve|reject|lock|unlock|help)$/.test(words[0] ?? '')
      ? words[0]!
      : 'unknown';
  }
}
