/**
 * Waits for the engine's models to be free for one image and resolves with the function that
 * frees them again (calling it twice frees once).
 */
export type EngineTurn = () => Promise<() => void>;

/**
 * Turns at one engine, first come first served: a worker that holds several images at once
 * runs their models one image at a time (the engine is single-threaded and not re-entrant
 * between stages); the next image's pixels wait in the worker's queue meanwhile.
 */
export function createEngineTurn(): EngineTurn {
  let last: Promise<void> = Promise.resolve();
  return () => {
    let free!: () => void;
    const freed = new Promise<void>((resolve) => {
      free = resolve;
    });
    const turn = last.then(() => free);
    last = last.then(() => freed);
    return turn;
  };
}
