import { existsSync } from "node:fs";
import { defineConfig } from "tsup";

// One entry per public subpath; entries whose source does not exist yet are left out.
const entries = [
  "src/index.ts",
  "src/stores/memory.ts",
  "src/stores/sqlite.ts",
  "src/stores/postgres.ts",
  "src/stores/mysql.ts",
  "src/stores/redis.ts",
  "src/adapters/express.ts",
  "src/adapters/fastify.ts",
  "src/adapters/hono.ts",
  "src/adapters/koa.ts",
  "src/adapters/express-session.ts",
  "src/adapters/next.ts",
  "src/adapters/react-router.ts",
  "src/adapters/sveltekit.ts",
  "src/adapters/otel.ts",
].filter((file) => existsSync(file));

export default defineConfig([
  {
    entry: entries,
    outDir: "dist",
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: true,
    treeshake: true,
    target: "node20",
  },
  ...(existsSync("src/cli/main.ts")
    ? [
        {
          entry: { "cli/main": "src/cli/main.ts" },
          outDir: "dist",
          format: ["esm" as const],
          sourcemap: true,
          clean: false,
          target: "node20",
          banner: { js: "#!/usr/bin/env node" },
        },
      ]
    : []),
]);
