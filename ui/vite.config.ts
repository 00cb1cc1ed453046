import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";

// The app's CSP (src-tauri/tauri.conf.json), sent by `vite preview` too so that a
// browser check catches anything the webview would block (inline styles, eval).
const csp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self' ipc: http://ipc.localhost",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export default defineConfig(({ mode }) => ({
  plugins: [svelte(), svelteTesting()],
  // Relative asset URLs: the bundle works from tauri://localhost and from a file server.
  base: "./",
  clearScreen: false,
  build: {
    // `--mode mock`: the UI over an in-memory backend (src/dev), for a plain browser.
    outDir: mode === "mock" ? "dist-mock" : "dist",
    rollupOptions: { input: mode === "mock" ? "mock.html" : "index.html" },
    emptyOutDir: true,
    target: "es2021",
    // No inline polyfill script: the CSP allows scripts from 'self' only.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1200,
  },
  server: {
    port: 1420,
    strictPort: true,
    // The example plans are bundled from ../plans.
    fs: { allow: [".."] },
  },
  preview: {
    port: 4173,
    headers: { "Content-Security-Policy": csp },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    setupFiles: ["src/test/setup.ts"],
  },
}));
