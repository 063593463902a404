// Process glue for swarmctl: real stdio, environment, Ctrl-C and exit code.
import { runCtl } from "./cli.js";

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

/** Runs swarmctl for this process and sets process.exitCode. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const abort = new AbortController();
  // The first Ctrl-C only stops waiting for convergence; the service is left alone.
  const onSigint = (): void => abort.abort();
  process.once("SIGINT", onSigint);
  try {
    process.exitCode = await runCtl(argv, {
      stdout: (t) => process.stdout.write(t),
      stderr: (t) => process.stderr.write(t),
      readStdin: () => readAll(process.stdin),
      progressIsTTY: process.stderr.isTTY === true,
      env: process.env,
      now: () => new Date(),
      signal: abort.signal,
    });
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}
