import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Tests run the client package from its source, as tsconfig's paths type-check it.
    alias: {
      "@facevault/client": fileURLToPath(
        new URL("./packages/client/src/index.ts", import.meta.url),
      ),
    },
  },
  test: {
    include: [
      "src/**/*.test.ts",
      "test/**/*.test.ts",
      "tools/**/*.test.ts",
      "packages/*/src/**/*.test.ts",
    ],
    // Face models take seconds to load and warm up; real servers and databases are involved.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    // Two cores: test files that each start model workers must not all run at once.
    maxWorkers: 2,
  },
});
