/** What the controller last saw each (app, env) run, as a named state. */
export interface LiveStateRow {
  app: string;
  env: string;
  state: string;
  detail: string;
  since: string;
}

export interface LiveStateStore {
  /** true when the state changed (and was written). */
  setLiveState(app: string, env: string, state: string, detail: string): Promise<boolean>;
  liveStates(): Promise<LiveStateRow[]>;
}
