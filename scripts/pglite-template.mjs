// `npm install` (the prepare script, after the build): make this installation's PGlite templates,
// so a new state folder is a copy (initialised and migrated) instead of an initdb and migrations
// on the first start. Never fails the install: without a template the first start makes one.
try {
  const { preparePgliteTemplate } = await import('../dist/src/store/pglite-db.js');
  const made = await preparePgliteTemplate();
  console.log(`conveyor: PGlite template ready (${made})`);
} catch (err) {
  console.log(`conveyor: no PGlite template made (${err?.message ?? err}); the first start makes one`);
}
