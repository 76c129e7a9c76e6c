/** Starts and stops app processes (`node --import tsx <file>`) that print `{"port":N}` when ready. */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const ADAPTER_APP = fileURLToPath(new URL("./adapter-app-server.ts", import.meta.url));

export interface AppProcess {
  base: string;
  port: number;
  child: ChildProcess;
  /** What the process wrote to stderr (last 4 KB). */
  stderr(): string;
}

const alive = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of alive) child.kill("SIGKILL");
});

export async function startProcess(
  file: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
  nodeArgs: string[] = [],
): Promise<AppProcess> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", file], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  alive.add(child);
  child.once("exit", () => alive.delete(child));
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4096);
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app process did not start in ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    lines.on("line", (line) => {
      const match = /"port":(\d+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`app process exited with ${code}:\n${stderr}`));
    });
  });
  return { base: `http://127.0.0.1:${port}`, port, child, stderr: () => stderr };
}

export async function stopProcess(app: AppProcess | undefined): Promise<void> {
  if (!app || app.child.exitCode !== null) return;
  const exited = once(app.child, "exit");
  app.child.kill("SIGTERM");
  const timer = setTimeout(() => app.child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}
