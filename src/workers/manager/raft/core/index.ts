// The raft consensus core: a pure, deterministic state machine (etcd-raft shape).
export * from "./types.js";
export { RaftCore, RAFT_DEFAULTS, isProposalDropped, type RaftConfig, type RaftInitialState } from "./raft.js";
export { SeededRandom, type RandomSource } from "./random.js";
export { encodeConfChange, decodeConfChange } from "./confchange.js";
export { NO_CONTEXT, NO_ENTRIES } from "./messages.js";
