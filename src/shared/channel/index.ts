export { exposeApi, connectApi, DEFAULT_CALL_TIMEOUT_MS } from "./channel.js";
export type { Client, Connection, ConnectOptions } from "./channel.js";
export { nodeEndpoint } from "./node-endpoint.js";
