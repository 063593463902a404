// Newline-delimited JSON from a byte stream (Docker's events and pull
// progress). Chunks may split or merge lines, so buffer and split on "\n".

export function ndjsonSplitter(onValue: (value: unknown) => void, onBadLine?: (line: string) => void): (chunk: Buffer | string) => void {
  let buf = "";
  return (chunk) => {
    buf += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        onBadLine?.(line);
        continue;
      }
      onValue(value);
    }
  };
}

/** Reads a whole NDJSON stream into an array of values. */
export function readNdjson(stream: NodeJS.ReadableStream, signal?: AbortSignal): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const values: unknown[] = [];
    const push = ndjsonSplitter((v) => values.push(v));
    const onAbort = (): void => {
      (stream as NodeJS.ReadableStream & { destroy?: (e?: Error) => void }).destroy?.();
      reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    stream.on("data", push);
    stream.on("error", (err: Error) => {
      signal?.removeEventListener("abort", onAbort);
      reject(err);
    });
    stream.on("end", () => {
      signal?.removeEventListener("abort", onAbort);
      resolve(values);
    });
  });
}
