// The API suite (test/api.test.ts) once more, on the PostgreSQL store (PGlite with pgvector): the
// same tests, not a copy. That file shares one library across its suites, so it runs one store per
// process; this entry picks PostgreSQL before loading it.
process.env.VIDSEARCH_TEST_STORES = 'postgres';
await import('./api.test');

export {}; // a module to tsc too (top-level await); Node already treats it as one ("type": "module")
