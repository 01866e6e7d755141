/** facevault as a library: build and run the service in-process, or talk to one. */
export { type App, type AppOptions, createApp } from "./app.js";
export * from "./client/index.js";
export { type FacevaultConfig, type LoadConfigOptions, loadConfig } from "./config.js";
export { type ErrorKind, FacevaultError } from "./errors.js";
