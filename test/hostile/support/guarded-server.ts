/**
 * A child process for the process-guard family: serve's HttpServer with routes whose bugs
 * escape every request handler (a throw in a timer, a rejection nobody awaits, a throw inside
 * an event listener). Prints its port, then serves until killed.
 */
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { HttpServer, sendJson } from '../../../src/server/http-server.js';

const http = new HttpServer(pino({ level: 'silent' }));
const emitter = new EventEmitter();
emitter.on('tick', () => {
  throw new Error('a listener bug');
});
http.add('GET', '/healthz', (_req, res) => sendJson(res, 200, { ok: true }));
http.add('GET', '/timer-throw', (_req, res) => {
  setTimeout(() => {
    throw new Error('a timer bug');
  }, 1);
  sendJson(res, 200, { scheduled: true });
});
http.add('GET', '/unhandled-rejection', (_req, res) => {
  void Promise.reject(new Error('a forgotten promise'));
  sendJson(res, 200, { scheduled: true });
});
http.add('GET', '/listener-throw', (_req, res) => {
  setImmediate(() => emitter.emit('tick'));
  sendJson(res, 200, { scheduled: true });
});
http.add('GET', '/handler-throw', () => {
  throw new TypeError("Cannot read properties of null (reading 'type')");
});
http.add('GET', '/handler-reject', async () => {
  await Promise.resolve();
  throw new Error('an async handler bug');
});
const port = await http.listen(0, '127.0.0.1');
console.log(`PORT ${port}`);
