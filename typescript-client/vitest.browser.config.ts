import { defineConfig } from "vitest/config";

// The browser test (test/browser): Chromium, Vite builds and server
// processes, one file, generous timeouts on a shared machine.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 120_000,
  },
});
