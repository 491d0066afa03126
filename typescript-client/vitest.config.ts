import { defineConfig } from "vitest/config";

// The tests start real server processes: run files one after another (the
// machine is small and shared) and give each test room.
export default defineConfig({
  test: {
    include: ["test/*.test.ts"], // test/browser has its own config
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
