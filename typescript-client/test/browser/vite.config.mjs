// Builds the React and Vue test pages, the changing-channel page and the benchmark page (test/browser/pages) into
// test/browser/dist with Vite; the browser test serves that directory.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: resolve(here, "pages"),
  base: "./",
  logLevel: "warn",
  define: {
    __VUE_OPTIONS_API__: "false",
    __VUE_PROD_DEVTOOLS__: "false",
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "false",
  },
  build: {
    outDir: resolve(here, "dist"),
    emptyOutDir: true,
    minify: false,
    rollupOptions: {
      input: {
        react: resolve(here, "pages/react/index.html"),
        vue: resolve(here, "pages/vue/index.html"),
        bench: resolve(here, "pages/bench/index.html"),
        switch: resolve(here, "pages/switch/index.html"),
      },
    },
  },
});
