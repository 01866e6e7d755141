/**
 * The part of the WebAssembly JavaScript API that Node provides at run time and the scan kernel
 * uses. TypeScript declares it only in its DOM library, which this Node project does not load.
 */
declare namespace WebAssembly {
  interface Module {
    readonly [Symbol.toStringTag]: string;
  }
  interface Memory {
    /** A SharedArrayBuffer for a shared memory. */
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
    /** Adds `pages` of 64 KiB; returns the previous size in pages. */
    grow(pages: number): number;
  }
  interface Global {
    value: unknown;
  }
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  var Module: { new (bytes: Uint8Array): Module };
  var Memory: {
    new (descriptor: { initial: number; maximum?: number; shared?: boolean }): Memory;
  };
  var Instance: {
    new (module: Module, imports?: Record<string, Record<string, unknown>>): Instance;
  };
}
