/**
 * The controller is src/controller/run-controller.ts (ports only); it is composed in
 * src/compose/controller.ts. This re-export keeps the `startController` entry where its callers
 * (serve's tests, bench/) look for it.
 */
export { type ControllerInput, type RunningController, startController } from '../compose/controller.js';
