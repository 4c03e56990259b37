/** The App Home tab: the matrix, what waits for the viewer, the viewer's API tokens. */
import type { App } from '@slack/bolt';
import type { SlackSurface } from '../surface.js';

export function registerAppHome(app: App, s: SlackSurface): void {
  app.event('app_home_opened', async ({ event, client }) => {
    if (event.tab !== 'home') return;
    await s.publishHome(client, event.user);
  });
}
