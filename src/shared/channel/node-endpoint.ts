// A typed comlink Endpoint over a Node MessagePort. comlink's own node adapter
// is mistyped under "module": "nodenext" (its default export reads as CJS), so
// this replaces it: Node ports emit the payload itself, comlink wants {data}.
import type { Endpoint } from "comlink";
import type { MessagePort } from "node:worker_threads";

type Handler = Parameters<Endpoint["addEventListener"]>[1];
type Transfer = Parameters<Endpoint["postMessage"]>[1];
type Listener = (data: unknown) => void;

export function nodeEndpoint(port: MessagePort): Endpoint {
  const listeners = new WeakMap<Handler, Listener>();
  return {
    postMessage: (message: unknown, transfer?: Transfer) =>
      port.postMessage(message, transfer as never),
    addEventListener(_type: string, handler: Handler) {
      const listener: Listener = (data) => {
        const event = { data } as Parameters<Extract<Handler, (e: never) => unknown>>[0];
        if (typeof handler === "function") handler(event);
        else handler.handleEvent(event);
      };
      listeners.set(handler, listener);
      port.on("message", listener);
    },
    removeEventListener(_type: string, handler: Handler) {
      const listener = listeners.get(handler);
      if (!listener) return;
      port.off("message", listener);
      listeners.delete(handler);
    },
    start: () => port.start(),
  };
}
