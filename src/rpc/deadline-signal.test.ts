import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { deadlineSignal } from "./deadline-signal.js";

// A garbage collection on demand, without starting the test process with --expose-gc.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("deadlineSignal", () => {
  it("aborts a combined signal with a TimeoutError even after garbage collections", async () => {
    // AbortSignal.timeout in this place never fires on Node 20 once a GC has run.
    const combined = AbortSignal.any([new AbortController().signal, deadlineSignal(100)]);
    for (let i = 0; i < 5; i++) {
      gc();
      await sleep(40);
    }
    expect(combined.aborted).toBe(true);
    expect(combined.reason).toBeInstanceOf(DOMException);
    expect((combined.reason as DOMException).name).toBe("TimeoutError");
  });

  it("is aborted at once for no time left", () => {
    expect(deadlineSignal(0).aborted).toBe(true);
    expect(deadlineSignal(-5).aborted).toBe(true);
  });

  it("never fires once the call it belongs to has ended", async () => {
    const call = new AbortController();
    const signal = deadlineSignal(50, call.signal);
    call.abort();
    await sleep(120);
    expect(signal.aborted).toBe(false);
  });
});
