/** The ports, one file each under ./ports/ (this re-export keeps `core/ports.js` imports working). */
export * from './ports/index.js';
