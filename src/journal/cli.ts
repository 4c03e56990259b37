/** `conveyor journal-watch` and `conveyor journal-agent` (wired in by the journal issues). */
type Out = { out: (s: string) => void; err: (s: string) => void };

export async function journalWatchMain(_args: string[], io: Out, _cwd: string): Promise<number> {
  io.err('journal-watch is not available yet in this version of Conveyor');
  return 1;
}

export async function journalAgentMain(_args: string[], io: Out, _cwd: string): Promise<number> {
  io.err('journal-agent is not available yet in this version of Conveyor');
  return 1;
}
