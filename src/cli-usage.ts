/**
 * Usage texts of the `conveyor` command line and its subcommands, and "did you mean" for a
 * mistyped subcommand. `--help`/`-h` prints them on stdout (exit 0); a usage error prints them on
 * stderr (exit 2).
 */
import { nearest } from './core/did-you-mean.js';

export const USAGE = `usage: conveyor <command> [options]

  serve                               run the bot, the HTTP API and the controller (npm start)
  run "<command text>"                run one chat command as Slack would, as the owner of your personal
                                      token (CONVEYOR_TOKEN or --token-file); --as <user> in the sandbox
  check-config                        validate the configuration and list every problem
  journal-watch --cluster <name> --dir <folder>
                                      export journals from a modelling cluster to the object store
  journal-agent --env <env> --import-cmd <argv…>
                                      import journals in an execution environment
  verify-worker --name <worker> --server <url>
                                      run the \`command\` verification checks assigned to <worker>
  help [<command>]                    this text, or the usage of one command

options: --config <file> (default ./conveyor.yaml, else the built-in sandbox)
         -h, --help (on every command), -V, --version
exit codes: 0 done, 1 refused or failed, 2 usage error`;

export const SERVE_USAGE = `usage: conveyor serve [--config F] [--port N]

  Runs the bot (Slack over HTTP or Socket Mode), the HTTP API (/slack/events, /github/webhooks,
  /api/journal/…, /healthz, /readyz, /metrics) and the controller in one process. Without a
  configuration it runs the sandbox. Listens on --port, else PORT (default 3000), on HOST
  (default 127.0.0.1 for the sandbox, 0.0.0.0 otherwise; the image sets 0.0.0.0). Stops cleanly
  on SIGTERM.`;

export const RUN_USAGE = `usage: conveyor run "<command text>" [--token-file F] [--json] [--config F] [--idempotency-key K]
       conveyor run "<command text>" --as <user> …      (sandbox only)

  Runs one chat command exactly as Slack would, through the running serve of the same
  configuration when there is one, and prints the reply. Exit 0 done or accepted, 1 refused or
  failed, 2 usage error.
  Who asks: the owner of a personal API token, created in Slack with \`/conveyor token create\`
  and given as CONVEYOR_TOKEN, or in a file only you can read (--token-file F or
  CONVEYOR_TOKEN_FILE; a file others can read is refused). Without a token, commands that only
  read (list, diff, history, help, journal status…) run anonymously when no serve is running;
  commands that change state are refused. In the sandbox, --as <user> names a demo user instead.
  Try: conveyor run "help" --as U_DEMO`;

export const CHECK_CONFIG_USAGE = `usage: conveyor check-config [--config F]

  Validates the configuration (default ./conveyor.yaml) and lists every problem with the path of
  its field. Exit 0 valid, 2 invalid.`;

export const JOURNAL_WATCH_USAGE = `usage: conveyor journal-watch --cluster <name> --dir <folder> [--config F] [--health-port N]

  Watches <folder> (absolute, or relative to the working folder) for finished journal exports of
  the modelling cluster <name>, uploads each to the object store, registers it with the bot
  (journal.botUrl, token JOURNAL_TOKEN or JOURNAL_TOKEN_FILE) and then moves it to uploaded/.
  --health-port N (or HEALTH_PORT): serve /healthz, /readyz and /metrics on port N (host: HOST).`;

export const JOURNAL_AGENT_USAGE = `usage: conveyor journal-agent --env <env> [--config F] [--state-file F] [--timeout SECONDS] [--health-port N] --import-cmd <program> [args…]

  Follows the key <journal.keyPrefix><env> (Consul, or the sandbox's embedded store); on each new
  version downloads it, checks its checksum, runs <program> [args…] <file> and reports the result
  to the bot (journal.botUrl, token JOURNAL_TOKEN or JOURNAL_TOKEN_FILE). Everything after
  --import-cmd is the command. --health-port N (or HEALTH_PORT): /healthz, /readyz, /metrics.`;

export const VERIFY_WORKER_USAGE = `usage: conveyor verify-worker --name <worker> --server <url> [--poll SECONDS]

  Runs the \`command\` verification checks serve assigns to <worker> (an environment's
  verify.worker, or a check's worker): asks serve at <url> for the next one, runs its argv without
  a shell (the minimal environment PATH, HOME, LANG, TZ plus the check's env), and reports the exit
  code and the last part of its output. Its token: VERIFY_WORKER_TOKEN (or VERIFY_WORKER_TOKEN_FILE),
  which serve knows from VERIFY_WORKER_TOKENS as <worker>=<token>. --poll: seconds between two
  looks when nothing waits (default 2). Stops on SIGTERM; a check it was running is handed out
  again once its claim expires.`;

export const SUBCOMMAND_USAGE: Record<string, string> = {
  serve: SERVE_USAGE,
  run: RUN_USAGE,
  'check-config': CHECK_CONFIG_USAGE,
  'journal-watch': JOURNAL_WATCH_USAGE,
  'journal-agent': JOURNAL_AGENT_USAGE,
  'verify-worker': VERIFY_WORKER_USAGE,
  help: USAGE,
};

/** The known word a typo most likely meant (see src/core/did-you-mean.ts), or undefined. */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  return nearest(word, known) ?? undefined;
}
