import { test } from "node:test";
import assert from "node:assert/strict";
import { Secret, TaskState } from "../../src/shared/api/index.js";
import * as fmt from "../../src/ctl/format.js";
import { goDuration, iBytes, timeAgo } from "../../src/ctl/humanize.js";
import { mapResolver, identityResolver } from "../../src/ctl/resolve.js";
import { INSPECT, tabwrite } from "../../src/ctl/tabwriter.js";
import { NOW, ago, cluster, globalService, node, runningTask, service, task, worker } from "./fixtures.js";

const res = mapResolver([node, worker], [service, globalService]);

test("humanized times match go-humanize", () => {
  assert.equal(timeAgo(ago(300), NOW), "now");
  assert.equal(timeAgo(ago(1500), NOW), "1 second ago");
  assert.equal(timeAgo(ago(2000), NOW), "2 seconds ago");
  assert.equal(timeAgo(ago(59_999), NOW), "59 seconds ago");
  assert.equal(timeAgo(ago(61_000), NOW), "1 minute ago");
  assert.equal(timeAgo(ago(3 * 3600_000), NOW), "3 hours ago");
  assert.equal(timeAgo(ago(3 * 86400_000), NOW), "3 days ago");
  assert.equal(timeAgo(new Date(NOW.getTime() + 5000), NOW), "5 seconds from now");
});

test("byte sizes and durations print as in Go", () => {
  assert.equal(iBytes(24 * 1024 ** 3), "24 GiB");
  assert.equal(iBytes(512 * 1024 ** 2), "512 MiB");
  assert.equal(iBytes(1.5 * 1024 ** 3), "1.5 GiB");
  assert.equal(iBytes(9), "9 B");
  assert.equal(goDuration(2160 * 3600e9), "2160h0m0s");
  assert.equal(goDuration(5e9), "5s");
  assert.equal(goDuration(0), "0s");
  assert.equal(goDuration(1.5e9), "1.5s");
  assert.equal(goDuration(90e9), "1m30s");
  assert.equal(goDuration(200e6), "200ms");
});

test("tabwriter: column blocks end at lines without the column (Go semantics)", () => {
  const out = tabwrite("a\t: 1\nlonger\t: 2\nno tabs here\nx\t: 3\n", INSPECT);
  assert.equal(out, "a             : 1\nlonger        : 2\nno tabs here\nx        : 3\n");
});

test("node ls: SwarmKit's columns, leader marked with *", () => {
  assert.equal(
    fmt.nodeTable([node]),
    "ID                         Name  Membership  Status  Availability  Manager Status\n" +
      "--                         ----  ----------  ------  ------------  --------------\n" +
      "k21bnxolk3eqaqjqcafql2kje  n1    ACCEPTED    READY   ACTIVE        REACHABLE *\n",
  );
  const lines = fmt.nodeTable([node, worker]).split("\n");
  assert.match(lines[3]!, /^w0rker00000000000000000001 +w1 +ACCEPTED +DOWN +DRAIN *$/);
  const pending = { ...worker, spec: { ...worker.spec!, desiredRole: 1 }, managerStatus: undefined };
  assert.match(fmt.nodeTable([pending]).split("\n")[2]!, /UNKNOWN$/);
});

test("service ls: replicas running/desired (only on live nodes) and global", () => {
  const tasks = [runningTask, task("x2", 2, TaskState.RUNNING, TaskState.RUNNING, 1000, { nodeId: worker.id })];
  const running = fmt.runningByService(tasks, [node, worker]);
  assert.equal(
    fmt.serviceTable([service, globalService], running),
    "ID                         Name  Image          Replicas\n" +
      "--                         ----  -----          --------\n" +
      "5emrytxwpilmyb87mkixu8ad2  web   busybox:local  1/1\n" +
      "27s3kg1zxmthcvf7t2k8g4g1w  glob  busybox:local  global\n",
  );
  assert.equal(fmt.serviceTable([], new Map()), "ID  Name  Image  Replicas\n--  ----  -----  --------\n");
});

test("task ls: <name>.<slot>, 'STATE n ago', resolved node; -n shows IDs; hidden history", async () => {
  const tasks = [runningTask, task("reu8in8emiwu348ja6h5su900", 2, TaskState.SHUTDOWN, TaskState.SHUTDOWN, 6000)];
  assert.equal(
    await fmt.taskTable(fmt.visibleTasks(tasks, false), res, NOW),
    "ID                         Service  Desired State  Last State             Node\n" +
      "--                         -------  -------------  ----------             ----\n" +
      "17o8w8g9p95zhq6ydt2w5c1dh  web.1    RUNNING        RUNNING 2 seconds ago  n1\n",
  );
  const all = await fmt.taskTable(fmt.visibleTasks(tasks, true), identityResolver(), NOW);
  assert.match(all, /reu8in8emiwu348ja6h5su900  5emrytxwpilmyb87mkixu8ad2\.2  SHUTDOWN +SHUTDOWN 6 seconds ago  k21bnxolk3eqaqjqcafql2kje/);
  assert.equal(fmt.idLines(tasks), "17o8w8g9p95zhq6ydt2w5c1dh\nreu8in8emiwu348ja6h5su900\n");
});

test("service inspect: SwarmKit's key/value block then the 4-space task table", async () => {
  const out = await fmt.serviceInspect(service, [runningTask], false, res, NOW);
  assert.equal(
    out,
    "ID                : 5emrytxwpilmyb87mkixu8ad2\n" +
      "Name              : web\n" +
      "Replicas          : 1/1\n" +
      "Template          \n" +
      " Container        \n" +
      "  Image           : busybox:local\n" +
      '  Command         : "sleep"\n' +
      "  Args            : [100000]\n" +
      "\n" +
      "Task ID                      Service    Slot    Image            Desired State    Last State               Node\n" +
      "-------                      -------    ----    -----            -------------    ----------               ----\n" +
      "17o8w8g9p95zhq6ydt2w5c1dh    web        1       busybox:local    RUNNING          RUNNING 2 seconds ago    n1\n",
  );
});

test("node inspect layout matches the observed SwarmKit output", () => {
  assert.equal(
    fmt.nodeSummary(node),
    [
      "ID                          : k21bnxolk3eqaqjqcafql2kje",
      "Hostname                    : n1",
      "Status:                     ",
      "  State                     : READY",
      "  Availability              : ACTIVE",
      "  Address                   : 127.0.0.1",
      "Manager status:             ",
      "  Address                   : 0.0.0.0:4242",
      "  Raft status               : REACHABLE",
      "  Leader                    : yes",
      "Platform:                   ",
      "  Operating System          : linux",
      "  Architecture              : x86_64",
      "Resources:                  ",
      "  CPUs                      : 2",
      "  Memory                    : 24 GiB",
      "  Generic Resources:        ",
      "Plugins:                    ",
      "  Network                   : [bridge host]",
      "  Volume                    : [local]",
      "Engine Version              : 20.10.24+dfsg1",
      "",
    ].join("\n"),
  );
});

test("task inspect: status block, node, spec and the Task Parents table", async () => {
  const out = await fmt.taskInspect(runningTask, [runningTask], res, NOW);
  assert.match(out, /^ID                     : 17o8w8g9p95zhq6ydt2w5c1dh\nSlot                   : 1\nService                : web\nStatus                 \n/);
  assert.match(out, /\n  Timestamp            : 2026-11-26T07:51:23\.943Z\n/);
  assert.match(out, /\n  ContainerID:         : 2b6e4c15c8f6\n  Pid                  : 15402\nNode                   : n1\n/);
  assert.match(out, /\n\n===> Task Parents\nTask ID {22}Service/);
});

test("cluster ls and inspect", () => {
  assert.equal(fmt.clusterTable([cluster]), "ID                         Name\n--                         ----\nua489p1yan3rkr3gb4xbj7tal  default\n");
  assert.equal(
    fmt.clusterInspect(cluster),
    "ID          : ua489p1yan3rkr3gb4xbj7tal\n" +
      "Name        : default\n" +
      "Orchestration settings:\n" +
      "  Task history entries: 5\n" +
      "Dispatcher settings:\n" +
      "  Dispatcher heartbeat period: 5s\n" +
      "Certificate Authority settings:\n" +
      "  Certificate Validity Duration: 2160h0m0s\n" +
      "  Join Tokens:\n" +
      "    Worker: SWMTKN-1-abc-worker\n" +
      "    Manager: SWMTKN-1-abc-manager\n",
  );
});

test("secret ls: newest first, 4-space padding", () => {
  const a = Secret.fromPartial({ id: "aaa", meta: { createdAt: ago(120_000) }, spec: { annotations: { name: "old" } } });
  const b = Secret.fromPartial({ id: "bbb", meta: { createdAt: ago(3000) }, spec: { annotations: { name: "new" } } });
  assert.equal(
    fmt.secretTable([a, b], NOW),
    "ID     Name    Driver    Created\n--     ----    ------    -------\nbbb    new               3 seconds ago\naaa    old               2 minutes ago\n",
  );
});
