// A transaction's changes as they travel through raft: SwarmKit's StoreAction
// (create | update | remove of one object). The list for one transaction is
// what InternalRaftRequest.action holds.
import type { Kind, ObjectOfKind, StoreObject } from "./objects.js";

export type ActionKind = "create" | "update" | "remove";

export interface StoreAction<K extends Kind = Kind> {
  action: ActionKind;
  kind: K;
  target: ObjectOfKind[K] & StoreObject;
}
