// The engine's entry for server code that needs the configuration and nothing else (the login page
// and app/lib/auth.ts, which it imports): importing index.ts there would load the model runtime,
// the database and the ANN index into a page that never uses them.
export { isLoopbackHost, processServerConfig, resolveServerConfig, type ServerConfig } from './services/config';
