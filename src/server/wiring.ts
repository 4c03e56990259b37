/** Moved to the composition root (src/compose/wiring.ts); this re-export keeps old imports working. */
export { journalChain, wireControllerless } from '../compose/wiring.js';
