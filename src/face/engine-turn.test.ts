import { describe, expect, it } from "vitest";
import { createEngineTurn } from "./engine-turn.js";

describe("engine turns", () => {
  it("lets one holder at a time in, first come first served, and frees once however often called", async () => {
    const turn = createEngineTurn();
    const order: string[] = [];
    const hold = async (name: string, steps: number): Promise<void> => {
      const release = await turn();
      order.push(`${name} in`);
      // Other holders' code runs meanwhile if the turn let them in.
      for (let i = 0; i < steps; i++) await new Promise((r) => setImmediate(r));
      order.push(`${name} out`);
      release();
      release();
    };
    await Promise.all([hold("a", 3), hold("b", 1), hold("c", 2)]);
    expect(order).toEqual(["a in", "a out", "b in", "b out", "c in", "c out"]);
  });

  it("keeps the next holder waiting until the current one releases", async () => {
    const turn = createEngineTurn();
    const releaseA = await turn();
    let bIn = false;
    const b = turn().then((release) => {
      bIn = true;
      return release;
    });
    await new Promise((r) => setImmediate(r));
    expect(bIn).toBe(false);
    releaseA();
    (await b)();
    expect(bIn).toBe(true);
  });
});
