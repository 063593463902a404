// Focused tests of the raft core's rules (after etcd-raft's test names).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  RaftCore,
  SeededRandom,
  decodeConfChange,
  encodeConfChange,
  type Message,
} from "../../src/workers/manager/raft/core/index.js";
import { Inflights } from "../../src/workers/manager/raft/core/inflights.js";
import { TestNet, bytes, text } from "./helpers.js";

const NO_PREVOTE = { preVote: false, checkQuorum: false };

test("TestStartAsFollower / bootstrap: a new node is a follower with committed bootstrap entries", () => {
  const net = new TestNet([1, 2, 3]);
  const st = net.node(1).status();
  assert.equal(st.role, "follower");
  assert.equal(st.leader, NONE);
  assert.equal(st.term, 1);
  assert.equal(st.commit, 3);
  assert.deepEqual(st.confState.voters, [1, 2, 3]);
  assert.equal(net.nodes.get(1)!.applied.length, 3);
});

test("TestRawNodeStep: the public step refuses local-only messages", () => {
  const net = new TestNet([1]);
  const m: Message = { type: MessageType.Hup, to: 1, from: 1, term: 0, logTerm: 0, index: 0, entries: [], commit: 0, snapshot: null, reject: false, rejectHint: 0, context: new Uint8Array(0) };
  assert.throws(() => net.node(1).step(m), /local-only/);
});

test("TestLeaderElection: a campaign with a quorum of votes elects; term bumps once", () => {
  const net = new TestNet([1, 2, 3], NO_PREVOTE);
  net.elect(1);
  assert.equal(net.leader(), 1);
  assert.equal(net.node(1).term, 2);
  assert.equal(net.node(2).status().leader, 1);
  // The new leader's empty entry commits everywhere.
  assert.equal(net.node(3).status().commit, 4);
});

test("TestSingleNodeCandidate: a single voter elects itself and commits alone", () => {
  const net = new TestNet([1]);
  net.elect(1);
  assert.equal(net.leader(), 1);
  assert.ok(net.node(1).propose(bytes("x")));
  net.stabilize();
  const applied = net.nodes.get(1)!.applied;
  assert.equal(text(applied[applied.length - 1]!.data), "x");
});

test("TestFollowerElectionTimeoutRandomized: timeouts are drawn from [E, 2E)", () => {
  const seen = new Set<number>();
  for (let seed = 1; seed <= 200; seed++) {
    const core = new RaftCore({ id: 1, random: new SeededRandom(seed), electionTick: 10, preVote: false }, { peers: [{ id: 1 }, { id: 2 }] });
    core.ready();
    core.advance();
    let ticks = 0;
    while (core.status().role === "follower") {
      core.tick();
      ticks++;
      assert.ok(ticks < 20, "campaigned too late");
    }
    assert.ok(ticks >= 10, `campaigned too early: ${ticks}`);
    seen.add(ticks);
  }
  assert.ok(seen.size >= 8, `timeouts not spread: ${[...seen]}`);
});

test("TestVoter/TestIsUpToDate: a vote is refused to a candidate with a shorter log", () => {
  const net = new TestNet([1, 2, 3], NO_PREVOTE);
  net.elect(1);
  net.isolate(3);
  net.node(1).propose(bytes("a"));
  net.stabilize();
  net.heal();
  // 3 lacks the entry: its campaign fails; a higher term still deposes 1 (no pre-vote).
  net.elect(3);
  assert.notEqual(net.leader(), 3);
  assert.equal(net.node(3).status().role, "follower");
});

test("TestFollowerVote: one vote per term, repeat grant to the same candidate", () => {
  const core = new RaftCore({ id: 1, random: new SeededRandom(1), ...NO_PREVOTE }, { peers: [{ id: 1 }, { id: 2 }, { id: 3 }] });
  core.ready();
  core.advance();
  const vote = (from: number): Message => ({ type: MessageType.Vote, to: 1, from, term: 5, logTerm: 1, index: 3, entries: [], commit: 0, snapshot: null, reject: false, rejectHint: 0, context: new Uint8Array(0) });
  core.step(vote(2));
  core.step(vote(3));
  core.step(vote(2));
  const msgs = core.ready().messages.filter((m) => m.type === MessageType.VoteResp);
  assert.deepEqual(msgs.map((m) => [m.to, m.reject]), [[2, false], [3, true], [2, false]]);
  core.advance();
});

test("pre-vote: an isolated node neither bumps its term nor disrupts the leader on rejoin", () => {
  const net = new TestNet([1, 2, 3]);
  net.elect(1);
  const term = net.node(1).term;
  net.isolate(3);
  net.tick(3, 100);
  assert.equal(net.node(3).term, term, "pre-candidate must not bump its term");
  net.heal();
  net.tickAll(30);
  assert.equal(net.leader(), 1);
  assert.equal(net.node(1).term, term);
});

test("check-quorum: a leader cut off from its quorum steps down; voters ignore campaigns within the lease", () => {
  const net = new TestNet([1, 2, 3]);
  net.elect(1);
  net.isolate(1);
  net.tick(1, 9);
  assert.equal(net.node(1).status().role, "leader", "activity before the cut counts for one round");
  net.tick(1, 11);
  assert.equal(net.node(1).status().role, "follower");
  net.heal();
  // Lease: 2 and 3 hear from a leader, so a forced campaign by 3 is ignored.
  const net2 = new TestNet([1, 2, 3], { preVote: false, checkQuorum: true });
  net2.elect(1);
  const term = net2.node(1).term;
  net2.elect(3);
  assert.equal(net2.leader(), 1);
  assert.equal(net2.node(2).term, term);
});

test("TestLeaderOnlyCommitsLogFromCurrentTerm: old-term entries commit only with an entry of the new term", () => {
  const core = new RaftCore(
    { id: 1, random: new SeededRandom(3), ...NO_PREVOTE },
    {
      hardState: { term: 3, vote: NONE, commit: 3 },
      entries: [
        { term: 1, index: 1, type: EntryType.ConfChange, data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: 1, context: new Uint8Array(0) }) },
        { term: 1, index: 2, type: EntryType.ConfChange, data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: 2, context: new Uint8Array(0) }) },
        { term: 1, index: 3, type: EntryType.ConfChange, data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: 3, context: new Uint8Array(0) }) },
        { term: 2, index: 4, type: EntryType.Normal, data: bytes("old") },
      ],
    },
  );
  const drain = (): Message[] => {
    const rd = core.ready();
    core.advance();
    return rd.messages;
  };
  drain();
  core.campaign();
  drain();
  const resp = (type: MessageType, index: number): Message => ({ type, to: 1, from: 2, term: 4, logTerm: 0, index, entries: [], commit: 0, snapshot: null, reject: false, rejectHint: 0, context: new Uint8Array(0) });
  core.step(resp(MessageType.VoteResp, 0));
  assert.equal(core.status().role, "leader");
  drain();
  assert.equal(core.log.lastIndex(), 5);
  core.step(resp(MessageType.AppResp, 4));
  drain();
  assert.equal(core.status().commit, 3, "entry 4 (term 2) must not commit by counting replicas");
  core.step(resp(MessageType.AppResp, 5));
  drain();
  assert.equal(core.status().commit, 5);
});

test("fast back-off: a divergent follower is repaired in one rejection per term", () => {
  const net = new TestNet([1, 2, 3], NO_PREVOTE);
  net.elect(1);
  net.isolate(2);
  net.isolate(3);
  // 1 writes 50 entries that nobody else sees.
  for (let i = 0; i < 50; i++) net.node(1).propose(bytes(`a${i}`));
  net.stabilize();
  net.heal();
  net.isolate(1);
  // 2 and 3 elect 3, which writes 30 entries 1 never sees.
  net.elect(3);
  assert.equal(net.node(3).status().role, "leader");
  for (let i = 0; i < 30; i++) net.node(3).propose(bytes(`b${i}`));
  net.stabilize();
  // 2 takes over, so its progress for 1 starts at its (long) last index.
  net.elect(2);
  assert.equal(net.node(2).status().role, "leader");
  net.heal();
  const before = net.sent.length;
  net.tickAll(3);
  const rejects = net.sent.slice(before).filter((m) => m.type === MessageType.AppResp && m.reject);
  assert.ok(rejects.length > 0 && rejects.length <= 3, `rejections: ${rejects.length}`);
  assert.equal(net.node(1).log.lastIndex(), net.node(2).log.lastIndex());
  assert.equal(net.node(1).status().commit, net.node(2).status().commit);
});

test("batching and message size: one append carries many proposals, bounded by maxSizePerMsg", () => {
  const net = new TestNet([1, 2, 3], { ...NO_PREVOTE, maxSizePerMsg: 250 });
  net.elect(1);
  const before = net.sent.length;
  assert.ok(net.node(1).proposeBatch(Array.from({ length: 10 }, () => new Uint8Array(100))));
  net.stabilize();
  const apps = net.sent.slice(before).filter((m) => m.type === MessageType.App && m.entries.length > 0);
  for (const m of apps) {
    const size = m.entries.reduce((s, e) => s + e.data.length, 0);
    assert.ok(size <= 250 || m.entries.length === 1, `append of ${size} bytes`);
    assert.ok(m.entries.length >= 2);
  }
  assert.equal(net.node(2).status().commit, net.node(1).status().commit);
});

test("pipelining: no more than maxInflightMsgs appends outstanding to a silent follower", () => {
  const net = new TestNet([1, 2, 3], { ...NO_PREVOTE, maxInflightMsgs: 3 });
  net.elect(1);
  net.filters.push((m) => m.to === 2 && m.type === MessageType.App); // appends to 2 vanish
  const before = net.sent.length;
  for (let i = 0; i < 20; i++) {
    net.node(1).propose(bytes(`p${i}`));
    net.stabilize();
  }
  const to2 = net.sent.slice(before).filter((m) => m.to === 2 && m.type === MessageType.App && m.entries.length > 0);
  assert.equal(to2.length, 3);
  const pr = net.node(1).status().progress["2"]!;
  assert.equal(pr.state, "replicate");
  assert.equal(pr.inflight, 3);
  assert.ok(pr.paused);
  // Heartbeat responses let only empty appends through; after the loss is healed it catches up.
  net.heal();
  net.tickAll(3);
  assert.equal(net.node(2).status().commit, net.node(1).status().commit);
});

test("ReadIndex: leader and follower reads return the commit index after a heartbeat quorum", () => {
  const net = new TestNet([1, 2, 3]);
  net.elect(1);
  net.node(1).propose(bytes("w"));
  net.stabilize();
  const commit = net.node(1).status().commit;
  net.node(1).readIndex(bytes("r1"));
  net.stabilize();
  const rs1 = net.nodes.get(1)!.readStates;
  assert.equal(rs1.length, 1);
  assert.equal(rs1[0]!.index, commit);
  assert.equal(text(rs1[0]!.context), "r1");
  net.node(3).readIndex(bytes("r3"));
  net.stabilize();
  const rs3 = net.nodes.get(3)!.readStates;
  assert.equal(rs3.length, 1);
  assert.equal(rs3[0]!.index, commit);
});

test("TestReadOnlyForNewLeader / stale leader: reads need a quorum and an entry of the leader's term", () => {
  const net = new TestNet([1, 2, 3]);
  net.elect(1);
  net.isolate(1);
  net.node(1).readIndex(bytes("stale"));
  net.stabilize();
  assert.equal(net.nodes.get(1)!.readStates.length, 0, "an isolated leader must not answer reads");
  // A new leader defers reads until its empty entry commits.
  const net2 = new TestNet([1, 2, 3], NO_PREVOTE);
  net2.elect(1);
  net2.filters.push((m) => m.type === MessageType.AppResp); // 2's entry cannot commit yet
  net2.elect(2);
  assert.equal(net2.node(2).status().role, "leader");
  const own = net2.node(2).log.lastIndex();
  net2.node(2).readIndex(bytes("new"));
  net2.stabilize();
  assert.equal(net2.nodes.get(2)!.readStates.length, 0);
  net2.heal();
  net2.tickAll(2);
  const rs = net2.nodes.get(2)!.readStates;
  assert.equal(rs.length, 1);
  assert.ok(rs[0]!.index >= own, `read index ${rs[0]!.index} < own entry ${own}`);
});

test("membership: add a member (it catches up), remove the leader (it steps down, others elect)", () => {
  const net = new TestNet([1, 2, 3], NO_PREVOTE);
  net.elect(1);
  net.add(4, NO_PREVOTE);
  assert.ok(net.node(1).proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 4, context: bytes("member-4") }));
  net.stabilize();
  net.tickAll(2);
  assert.deepEqual(net.node(1).confState().voters, [1, 2, 3, 4]);
  assert.deepEqual(net.node(4).confState().voters, [1, 2, 3, 4]);
  const cc = net.nodes.get(4)!.applied.find((e) => e.type === EntryType.ConfChange && decodeConfChange(e.data).nodeId === 4)!;
  assert.equal(text(decodeConfChange(cc.data).context), "member-4");
  net.node(1).proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1, context: new Uint8Array(0) });
  net.stabilize();
  assert.equal(net.node(1).status().role, "follower", "a removed leader steps down");
  assert.equal(net.node(1).propose(bytes("x")), false, "no leader known to forward to");
  net.tickAll(40);
  const leader = net.leader();
  assert.ok(leader === 2 || leader === 3 || leader === 4, `leader ${leader}`);
  assert.deepEqual(net.node(leader).confState().voters, [2, 3, 4]);
});

test("only one conf change at a time: a second pending change becomes an empty entry", () => {
  const net = new TestNet([1, 2, 3], NO_PREVOTE);
  net.elect(1);
  net.isolate(2);
  net.isolate(3);
  net.node(1).proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 4, context: new Uint8Array(0) });
  net.node(1).proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 5, context: new Uint8Array(0) });
  net.stabilize();
  const log = net.node(1).log;
  const types = [log.entryAt(log.lastIndex() - 1).type, log.entryAt(log.lastIndex()).type];
  assert.deepEqual(types, [EntryType.ConfChange, EntryType.Normal]);
});

test("a member removed while partitioned cannot disrupt the cluster", () => {
  const net = new TestNet([1, 2, 3, 4]);
  net.elect(1);
  net.isolate(4);
  net.node(1).proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 4, context: new Uint8Array(0) });
  net.stabilize();
  assert.deepEqual(net.node(1).confState().voters, [1, 2, 3]);
  const term = net.node(1).term;
  net.tick(4, 200); // 4 keeps trying to campaign in isolation
  net.heal();
  net.tickAll(50);
  assert.equal(net.leader(), 1);
  assert.equal(net.node(1).term, term);
  assert.equal(net.node(2).term, term);
});

test("leadership transfer: the transferee takes over; proposals are dropped while pending", () => {
  const net = new TestNet([1, 2, 3]);
  net.elect(1);
  net.node(1).transferLeadership(2);
  net.stabilize();
  assert.equal(net.leader(), 2);
  // Pending transfer to a lagging, unreachable follower drops proposals, then times out.
  net.isolate(3);
  net.node(2).propose(bytes("z"));
  net.stabilize();
  net.node(2).transferLeadership(3);
  net.stabilize();
  assert.equal(net.node(2).status().leadTransferee, 3);
  assert.equal(net.node(2).propose(bytes("dropped")), false);
  net.tick(2, 11);
  assert.equal(net.node(2).status().leadTransferee, NONE);
  assert.equal(net.leader(), 2);
});

test("snapshots: compaction keeps a tail, a lagging follower is sent the snapshot and catches up", () => {
  const net = new TestNet([1, 2, 3], { ...NO_PREVOTE, snapshotCatchUpEntries: 5 });
  net.elect(1);
  net.isolate(3);
  for (let i = 0; i < 40; i++) net.node(1).propose(bytes(`e${i}`));
  net.stabilize();
  const leader = net.node(1);
  const applied = leader.status().applied;
  const snap = leader.snapshotTaken(applied, bytes("state@" + applied));
  assert.equal(snap.metadata.index, applied);
  assert.deepEqual(snap.metadata.confState.voters, [1, 2, 3]);
  assert.equal(leader.log.firstIndex(), applied - 5 + 1, "a tail of 5 entries is kept");
  net.heal();
  net.tickAll(3);
  const snaps = net.sent.filter((m) => m.type === MessageType.Snap && m.to === 3);
  assert.equal(snaps.length, 1);
  net.node(1).reportSnapshotStatus(3, true);
  net.tickAll(3);
  assert.equal(net.nodes.get(3)!.disk.snapshot?.metadata.index, applied);
  assert.equal(net.node(3).status().commit, leader.status().commit);
  assert.equal(leader.status().progress["3"]!.state, "replicate");
  // Restart of 3 from its disk (snapshot + entries) recovers the same log.
  const r = net.restart(3);
  assert.equal(r.log.lastIndex(), leader.log.lastIndex());
  assert.equal(r.status().commit, leader.status().commit);
});

test("restart from persisted state: term, vote and commit survive; committed entries re-emitted", () => {
  const net = new TestNet([1, 2, 3]);
  net.elect(1);
  net.node(1).propose(bytes("k"));
  net.stabilize();
  const before = net.node(2).status();
  const r = net.restart(2);
  const st = r.status();
  assert.equal(st.term, before.term);
  assert.equal(st.vote, before.vote);
  assert.equal(st.commit, before.commit);
  const rd = r.ready();
  assert.equal(rd.hardState, null, "no hard state change on restart");
  assert.equal(rd.committedEntries.length, before.commit);
  assert.equal(rd.mustSync, false);
  r.advance();
  assert.equal(r.hasReady(), false);
});

test("status(): per-follower progress on the leader", () => {
  const net = new TestNet([1, 2, 3]);
  net.elect(1);
  const st = net.node(1).status();
  assert.equal(st.role, "leader");
  assert.equal(st.leader, 1);
  assert.deepEqual(Object.keys(st.progress).sort(), ["1", "2", "3"]);
  assert.equal(st.progress["2"]!.match, st.lastIndex);
  assert.equal(st.progress["2"]!.next, st.lastIndex + 1);
  assert.equal(st.progress["2"]!.state, "replicate");
});

test("messages and Ready are plain data (structured-cloneable)", () => {
  const net = new TestNet([1, 2, 3]);
  net.elect(1);
  net.node(1).propose(bytes("c"));
  net.flush();
  for (const m of net.sent) assert.deepEqual(structuredClone(m), m);
});

test("ConfChange encoding round-trips (raftpb wire format)", () => {
  const cc = { type: ConfChangeType.AddLearnerNode, nodeId: 2 ** 52 + 12345, context: bytes("ctx") };
  const back = decodeConfChange(encodeConfChange(cc));
  assert.equal(back.type, cc.type);
  assert.equal(back.nodeId, cc.nodeId);
  assert.equal(text(back.context), "ctx");
});

test("Inflights: a ring buffer freed in order, full by count or bytes", () => {
  const inf = new Inflights(3, 100);
  inf.add(5, 10);
  inf.add(7, 10);
  inf.add(9, 10);
  assert.ok(inf.full());
  inf.freeLE(7);
  assert.equal(inf.count, 1);
  assert.equal(inf.bytes, 10);
  inf.add(11, 95);
  assert.ok(inf.full(), "full by bytes");
  inf.freeLE(4);
  assert.equal(inf.count, 2);
  inf.freeLE(100);
  assert.equal(inf.count, 0);
  assert.equal(inf.bytes, 0);
});
