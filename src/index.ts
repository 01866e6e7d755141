/**
 * facevault as a library: build and run the service in-process. The clients that talk to one
 * are the package @facevault/client.
 */
export { type App, type AppOptions, createApp } from "./app.js";
export { type FacevaultConfig, type LoadConfigOptions, loadConfig } from "./config.js";
export { type ErrorKind, FacevaultError } from "./errors.js";
