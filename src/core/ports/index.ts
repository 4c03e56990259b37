/**
 * Ports: the small interfaces through which the core speaks to the outside world. Every SDK
 * lives behind one of these in one thin adapter under src/adapters/; the store's aggregates
 * are implemented over PGlite/PostgreSQL in src/store/. The composition root (src/compose/)
 * builds the implementations and hands them in.
 */
export * from './api-tokens.js';
export * from './approvals.js';
export * from './audit.js';
export * from './change-tickets.js';
export * from './clock.js';
export * from './cluster-watch.js';
export * from './directory.js';
export * from './engine.js';
export * from './git-host.js';
export * from './idempotency.js';
export * from './image-registry.js';
export * from './journal-chain.js';
export * from './journal-versions.js';
export * from './kv-store.js';
export * from './leadership.js';
export * from './live-states.js';
export * from './locks.js';
export * from './log.js';
export * from './notifier.js';
export * from './object-store.js';
export * from './operations.js';
export * from './store.js';
