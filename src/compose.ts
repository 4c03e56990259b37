/** The composition root is src/compose/ (this re-export keeps `compose.js` imports working). */
export * from './compose/index.js';
