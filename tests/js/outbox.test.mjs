// The send queue: one sendMessage in flight per connection, so a sender's messages are stored in
// the order typed. Everything runs on the fake clock: no test waits for real time.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { normalizeConfig } from "../../dynamowave/static/js/config.js";
import { KEEPALIVE } from "../../dynamowave/static/js/connection.js";
import { ACK_TIMEOUT_MS, MAX_RETRY_AFTER_MS, Outbox, RETRY_MARGIN_MS } from "../../dynamowave/static/js/outbox.js";
import { PendingSends } from "../../dynamowave/static/js/pending.js";
import { FakeTimers, FakeWebSocket, sentIds, startedChat } from "./fakes.mjs";

const FIVE = ["m0", "m1", "m2", "m3", "m4"];

function connect() {
  const ws = FakeWebSocket.last;
  ws.open();
  return ws;
}

/** A started chat, online, with the five messages typed at once. */
function fiveTyped() {
  const setup = startedChat();
  const ws = connect();
  for (const text of FIVE) assert.equal(setup.chat.submit(text), true);
  return { ...setup, ws };
}

/** The server's ack for a message the chat sent, as the local runtime would answer it. */
function ack(ws, clientMessageId, ts) {
  ws.receive({ type: "ack", clientMessageId, messageId: `M-${clientMessageId}`, ts });
}

describe("send queue", () => {
  test("five messages typed at once go out one at a time, in typed order", () => {
    const { chat, ws, timers } = fiveTyped();
    assert.deepEqual(sentIds(ws), ["cmid-1"], "only the first is in flight");
    assert.equal(chat.pending.size, 5, "the rest wait, shown as pending");
    for (let i = 1; i <= 5; i++) {
      assert.equal(sentIds(ws).length, i);
      timers.advance(10);
      ack(ws, `cmid-${i}`, timers.now);
    }
    assert.deepEqual(
      ws.frames("sendMessage").map((f) => f.text),
      FIVE,
    );
    assert.equal(chat.pending.size, 0);
    assert.equal(chat.outbox.inflight, null);
    assert.deepEqual(
      chat.rooms.get("lobby").messages.map((m) => m.text),
      FIVE,
    );
  });

  test("the next message goes out only after the ack of the one in flight", () => {
    const { ws, timers } = fiveTyped();
    ack(ws, "cmid-4", timers.now); // an ack for a queued message (a stale retry's) releases nothing
    ack(ws, "unknown", timers.now);
    ws.receive({ type: "message", room: "lobby", messageId: "X", sender: "bob", text: "hi", ts: timers.now });
    assert.deepEqual(sentIds(ws), ["cmid-1"]);
    ack(ws, "cmid-1", timers.now);
    assert.deepEqual(sentIds(ws), ["cmid-1", "cmid-2"]);
    ack(ws, "cmid-1", timers.now); // a repeated ack does not release the next one early
    assert.deepEqual(sentIds(ws), ["cmid-1", "cmid-2"]);
  });

  test("an error for the message in flight fails it and unblocks the queue", () => {
    const { chat, ws, timers, called } = fiveTyped();
    ws.receive({ type: "error", code: "internal", message: "boom" }); // no clientMessageId: not its answer
    assert.deepEqual(sentIds(ws), ["cmid-1"]);
    ws.receive({ type: "error", code: "conflict", message: "reused", clientMessageId: "cmid-1" });
    assert.equal(chat.pending.get("cmid-1").state, "failed");
    assert.equal(called("messages.pendingFailed").length, 1, "the Retry/Discard UI");
    assert.deepEqual(sentIds(ws), ["cmid-1", "cmid-2"]);
    for (const id of ["cmid-2", "cmid-3", "cmid-4", "cmid-5"]) ack(ws, id, timers.now);
    assert.deepEqual(sentIds(ws), ["cmid-1", "cmid-2", "cmid-3", "cmid-4", "cmid-5"]);
    chat.discard("cmid-1");
    assert.equal(chat.pending.size, 0);
  });

  test("not_in_room: the room's other messages wait for the join that Retry sends", () => {
    const { chat, ws, timers } = fiveTyped();
    ws.receive({ type: "error", code: "not_in_room", message: "join first", clientMessageId: "cmid-1" });
    assert.deepEqual(sentIds(ws), ["cmid-1"], "sending into a room we are not in would fail them all");
    chat.retry("cmid-1");
    assert.deepEqual(ws.frames("joinRoom"), [{ action: "joinRoom", room: "lobby" }]);
    ws.receive({ type: "joined", room: "lobby" });
    for (const id of ["cmid-2", "cmid-3", "cmid-4", "cmid-5"]) ack(ws, id, timers.now);
    assert.deepEqual(sentIds(ws), ["cmid-1", "cmid-2", "cmid-3", "cmid-4", "cmid-5", "cmid-1"]);
  });

  test("a reconnect resends the message in flight first, same clientMessageId, then the queue", () => {
    const { chat, ws, timers } = fiveTyped();
    ack(ws, "cmid-1", timers.now);
    assert.deepEqual(sentIds(ws), ["cmid-1", "cmid-2"]);
    ws.serverClose(); // cmid-2's answer dies with the socket
    assert.equal(chat.outbox.inflight, null);
    timers.advance(60_000);
    const next = connect();
    assert.deepEqual(sentIds(next), ["cmid-2"], "the lost one first, and alone");
    assert.equal(next.frames("sendMessage")[0].text, "m1");
    for (const id of ["cmid-2", "cmid-3", "cmid-4"]) ack(next, id, timers.now);
    assert.deepEqual(sentIds(next), ["cmid-2", "cmid-3", "cmid-4", "cmid-5"]);
  });

  test("a new name replaces the socket: its first frame is the message that was in flight", () => {
    const { chat, ws, timers } = fiveTyped();
    chat.setIdentity("alice2", ""); // a new socket without a close event for the old one
    assert.ok(ws.closedByClient);
    const next = connect();
    assert.deepEqual(sentIds(next), ["cmid-1"], "at once, not after the ack timeout");
    ack(next, "cmid-1", timers.now);
    assert.deepEqual(sentIds(next), ["cmid-1", "cmid-2"]);
  });

  test("a transient error (unavailable) keeps the message in flight and the ack timeout resends it", () => {
    const { chat, ws, timers } = fiveTyped();
    ws.receive({ type: "error", code: "unavailable", message: "busy", clientMessageId: "cmid-1" });
    assert.equal(chat.pending.get("cmid-1").state !== "failed", true, "not a verdict on the message");
    assert.deepEqual(sentIds(ws), ["cmid-1"], "the queue does not move past it");
    timers.advance(ACK_TIMEOUT_MS);
    assert.deepEqual(sentIds(ws), ["cmid-1", "cmid-1"], "resent with the same clientMessageId");
    ack(ws, "cmid-1", timers.now);
    assert.deepEqual(sentIds(ws), ["cmid-1", "cmid-1", "cmid-2"]);
  });

  test("rate_limited keeps the message in flight: not failed, resent with the same id, the queue waits", () => {
    const { chat, ws, timers } = fiveTyped();
    ws.receive({
      type: "error",
      code: "rate_limited",
      message: "slow down",
      clientMessageId: "cmid-1",
      retryAfterMs: 250,
    });
    assert.notEqual(chat.pending.get("cmid-1").state, "failed", "not a verdict on the message");
    assert.deepEqual(sentIds(ws), ["cmid-1"], "the next message does not overtake it");
    timers.advance(ACK_TIMEOUT_MS);
    assert.equal(sentIds(ws).at(-1), "cmid-1", "resent with the same clientMessageId");
    ack(ws, "cmid-1", timers.now);
    assert.equal(sentIds(ws).at(-1), "cmid-2");
  });

  test("no answer within the ack timeout: the same frame again, and a ping to test the socket", () => {
    const { ws, timers } = fiveTyped();
    timers.advance(ACK_TIMEOUT_MS - 1);
    assert.deepEqual(sentIds(ws), ["cmid-1"]);
    timers.advance(1);
    assert.deepEqual(sentIds(ws), ["cmid-1", "cmid-1"], "resent with the same clientMessageId");
    assert.equal(ws.sent.at(-2), ws.sent.at(-3), "byte for byte the same frame");
    assert.equal(ws.frames("ping").length, 1);
    ack(ws, "cmid-1", timers.now);
    ack(ws, "cmid-1", timers.now); // the retry's ack too: ignored
    assert.deepEqual(sentIds(ws), ["cmid-1", "cmid-1", "cmid-2"]);
  });

  test("a dead socket under an unanswered message: pong timeout, reconnect, resend", () => {
    const { chat, ws, timers } = fiveTyped();
    timers.advance(ACK_TIMEOUT_MS); // resend + ping; nothing answers either
    assert.ok(chat.online);
    timers.advance(KEEPALIVE.pongTimeoutMs); // the second ack timeout's ping keeps the first deadline
    assert.ok(!chat.online);
    timers.advance(60_000);
    const next = connect();
    assert.deepEqual(sentIds(next), ["cmid-1"]);
  });

  test("messages of a room not joined yet do not block another room's queue", () => {
    const { chat, timers } = startedChat();
    chat.switchRoom("side"); // offline: joined after the reconnect
    chat.submit("to side");
    chat.switchRoom("lobby");
    chat.submit("to lobby");
    const ws = connect(); // $connect joined lobby only
    assert.deepEqual(sentIds(ws), ["cmid-2"]);
    ack(ws, "cmid-2", timers.now);
    ws.receive({ type: "joined", room: "side" });
    assert.deepEqual(sentIds(ws), ["cmid-2", "cmid-1"]);
  });

  test("a message the server's limits refuse is failed without stalling the queue", () => {
    const { chat, timers } = startedChat();
    chat.submit("much too long"); // typed offline under the default limits
    chat.submit("ok");
    chat.setConfig(normalizeConfig({ websocketUrl: "ws://127.0.0.1:8000/dev", limits: { maxTextChars: 5 } }));
    const ws = connect();
    assert.equal(chat.pending.get("cmid-1").state, "failed");
    assert.equal(chat.pending.get("cmid-1").error, "payload_too_large");
    assert.deepEqual(sentIds(ws), ["cmid-2"]);
    ack(ws, "cmid-2", timers.now);
    assert.equal(chat.outbox.inflight, null);
  });
});

describe("Outbox on its own", () => {
  test("settles only the entry in flight; lost() keeps it at the head of the queue", () => {
    const timers = new FakeTimers();
    const pending = new PendingSends();
    const sent = [];
    let open = true;
    const outbox = new Outbox({ pending, timers, canSend: () => open, transmit: (p) => sent.push(p.text) });
    const a = pending.add({ clientMessageId: "a", room: "r", text: "A", ts: 1 });
    pending.add({ clientMessageId: "b", room: "r", text: "B", ts: 1 });
    outbox.pump();
    outbox.pump();
    assert.deepEqual(sent, ["A"]);
    outbox.settled(pending.get("b"));
    assert.deepEqual(sent, ["A"]);
    open = false;
    outbox.lost();
    assert.equal(timers.pending, 0, "no ack timer left behind");
    open = true;
    outbox.pump();
    assert.deepEqual(sent, ["A", "A"]);
    pending.ack({ clientMessageId: "a", messageId: "M-a" });
    outbox.settled(a);
    assert.deepEqual(sent, ["A", "A", "B"]);
  });

  test("retryAfter resends the entry in flight after the server's wait, not the ack timeout", () => {
    const timers = new FakeTimers();
    const pending = new PendingSends();
    const sent = [];
    const pinged = [];
    const outbox = new Outbox({
      pending,
      timers,
      canSend: () => true,
      transmit: (p) => sent.push(p.text),
      onTimeout: (p) => pinged.push(p.text),
    });
    const a = pending.add({ clientMessageId: "a", room: "r", text: "A", ts: 1 });
    const b = pending.add({ clientMessageId: "b", room: "r", text: "B", ts: 1 });
    outbox.pump();
    assert.equal(outbox.retryAfter(b, 100), false, "only the entry in flight can be told to wait");
    assert.equal(outbox.retryAfter(a, 300), true);
    timers.advance(300 + RETRY_MARGIN_MS - 1);
    assert.deepEqual(sent, ["A"], "not early");
    timers.advance(1);
    assert.deepEqual(sent, ["A", "A"], "the same entry again; B still waits");
    assert.deepEqual(pinged, [], "a rate limit says nothing about the socket: no ping");
    assert.equal(outbox.retryAfter(a, 10 * MAX_RETRY_AFTER_MS), true, "refused again, with an absurd wait");
    timers.advance(MAX_RETRY_AFTER_MS + RETRY_MARGIN_MS);
    assert.deepEqual(sent, ["A", "A", "A"], "the wait is capped");
    timers.advance(ACK_TIMEOUT_MS); // no answer to the resend: the ack timeout applies again
    assert.deepEqual(sent, ["A", "A", "A", "A"]);
    assert.deepEqual(pinged, ["A"]);
    pending.ack({ clientMessageId: "a", messageId: "M-a" });
    outbox.settled(a);
    assert.deepEqual(sent.at(-1), "B");
    assert.equal(outbox.retryAfter(b, Number.NaN), true, "no usable wait: resend at once");
    timers.advance(RETRY_MARGIN_MS);
    assert.deepEqual(sent.slice(-2), ["B", "B"]);
  });

  test("a rate-limited entry whose room was lost meanwhile is re-queued, not resent", () => {
    const timers = new FakeTimers();
    const pending = new PendingSends();
    const sent = [];
    let joined = true;
    const outbox = new Outbox({ pending, timers, canSend: () => joined, transmit: (p) => sent.push(p.text) });
    const a = pending.add({ clientMessageId: "a", room: "r", text: "A", ts: 1 });
    outbox.pump();
    outbox.retryAfter(a, 100);
    joined = false;
    timers.advance(1000);
    assert.deepEqual(sent, ["A"]);
    assert.equal(outbox.inflight, null);
    assert.equal(timers.pending, 0);
  });

  test("a timeout after the room was lost re-queues the entry instead of resending into nowhere", () => {
    const timers = new FakeTimers();
    const pending = new PendingSends();
    const sent = [];
    let joined = true;
    const outbox = new Outbox({ pending, timers, canSend: () => joined, transmit: (p) => sent.push(p.text) });
    pending.add({ clientMessageId: "a", room: "r", text: "A", ts: 1 });
    outbox.pump();
    joined = false;
    timers.advance(ACK_TIMEOUT_MS);
    assert.deepEqual(sent, ["A"]);
    assert.equal(outbox.inflight, null);
    joined = true;
    outbox.pump();
    assert.deepEqual(sent, ["A", "A"]);
  });
});
