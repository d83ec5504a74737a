import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { PendingSends } from "../../dynamowave/static/js/pending.js";
import { FakeWebSocket, sentIds, startedChat } from "./fakes.mjs";

function three() {
  const pending = new PendingSends();
  for (const [id, room] of [
    ["a", "lobby"],
    ["b", "lobby"],
    ["c", "side"],
  ]) {
    pending.add({ clientMessageId: id, room, text: `text ${id}`, ts: 1 });
  }
  return pending;
}

const ids = (entries) => entries.map((p) => p.clientMessageId);

describe("PendingSends", () => {
  test("an ack settles exactly the send with its clientMessageId", () => {
    const pending = three();
    const entry = pending.ack({ type: "ack", clientMessageId: "b", messageId: "M-b", ts: 2 });
    assert.equal(entry.text, "text b");
    assert.equal(entry.messageId, "M-b");
    assert.deepEqual(ids(pending.inRoom("lobby")), ["a"]);
    assert.ok(pending.isMine("M-b"));
    assert.ok(!pending.isMine("M-a"));
    assert.equal(pending.ack({ clientMessageId: "b", messageId: "M-b" }), null, "a repeated ack is ignored");
    assert.equal(pending.ack({ clientMessageId: "zzz", messageId: "M-z" }), null);
    assert.equal(pending.size, 2);
  });

  test("an error marks the send it names as failed, and only that one", () => {
    const pending = three();
    const entry = pending.fail({ type: "error", code: "not_in_room", clientMessageId: "a" });
    assert.equal(entry.state, "failed");
    assert.equal(entry.error, "not_in_room");
    assert.equal(pending.get("b").state, "sending");
    assert.equal(pending.fail({ type: "error", code: "rate_limited", clientMessageId: null }), null);
    assert.equal(pending.fail({ type: "error", code: "internal", clientMessageId: "unknown" }), null);
    assert.equal(pending.size, 3, "failed sends stay until retried or discarded");
  });

  test("the head of the queue: oldest still to send in a sendable room; Retry re-queues at the end", () => {
    const pending = three();
    const all = () => true;
    assert.equal(pending.next(all).clientMessageId, "a");
    assert.equal(pending.next((room) => room === "side").clientMessageId, "c", "a room not joined waits");
    assert.equal(pending.next(() => false), null);
    pending.fail({ code: "rate_limited", clientMessageId: "a" });
    assert.equal(pending.next(all).clientMessageId, "b", "failed ones wait for Retry");
    assert.equal(pending.retry("a").state, "sending");
    assert.equal(pending.get("a").error, null);
    assert.deepEqual(ids(pending.inRoom("lobby")), ["b", "a"]);
    assert.equal(pending.next(all).clientMessageId, "b");
    assert.equal(pending.retry("nope"), null);
  });

  test("discard and leaving a room drop entries", () => {
    const pending = three();
    assert.equal(pending.discard("a").clientMessageId, "a");
    assert.equal(pending.discard("a"), null);
    assert.deepEqual(ids(pending.dropRoom("side")), ["c"]);
    assert.deepEqual(ids(pending.inRoom("side")), []);
    assert.equal(pending.size, 1);
  });
});

describe("sending through the chat", () => {
  /** The server accepts the socket the chat dialled last. */
  function connect() {
    const ws = FakeWebSocket.last;
    ws.open();
    return ws;
  }

  test("a message typed offline goes out once the socket opens, and again after a lost ack", () => {
    const { chat, timers } = startedChat();
    assert.equal(chat.submit("typed while offline"), true);
    let ws = connect();
    assert.deepEqual(ws.frames("sendMessage"), [
      { action: "sendMessage", room: "lobby", text: "typed while offline", clientMessageId: "cmid-1" },
    ]);

    // The socket dies before the ack: the next socket resends with the same clientMessageId.
    ws.serverClose();
    timers.advance(60_000);
    ws = connect();
    assert.deepEqual(
      ws.frames("sendMessage").map((f) => f.clientMessageId),
      ["cmid-1"],
    );

    ws.receive({ type: "ack", clientMessageId: "cmid-1", messageId: "M1", ts: timers.now });
    assert.equal(chat.pending.size, 0);
    // The broadcast echoes it with the name as the server sanitized it.
    const echo = { type: "message", room: "lobby", messageId: "M1", text: "typed while offline", ts: timers.now };
    ws.receive({ ...echo, sender: "Alice" });
    assert.deepEqual(
      chat.rooms.get("lobby").messages.map((m) => [m.text, m.sender]),
      [["typed while offline", "Alice"]],
      "the echo of our own message is not shown twice",
    );

    ws.serverClose();
    timers.advance(60_000);
    assert.deepEqual(connect().frames("sendMessage"), [], "nothing left to resend");
  });

  test("an error frame fails the matching send; it is not resent until Retry", () => {
    const { chat, timers, called } = startedChat();
    let ws = connect();
    chat.submit("one");
    chat.submit("two");
    // conflict is a verdict on the message (rate_limited and unavailable are not: they keep it in flight)
    ws.receive({ type: "error", code: "conflict", message: "id reused", clientMessageId: "cmid-1" });
    assert.equal(chat.pending.get("cmid-1").state, "failed");
    assert.equal(chat.pending.get("cmid-2").state, "sending");
    assert.equal(called("messages.pendingFailed").length, 1);
    assert.deepEqual(called("notice").at(-1), [
      "notice",
      "That message id was already used for another text.",
      "id reused",
    ]);
    assert.deepEqual(sentIds(ws), ["cmid-1", "cmid-2"], "the error let the next one go");

    ws.serverClose();
    timers.advance(60_000);
    ws = connect();
    assert.deepEqual(sentIds(ws), ["cmid-2"], "the failed one is not resent");

    chat.retry("cmid-1");
    assert.deepEqual(sentIds(ws), ["cmid-2"], "Retry queues it behind the one in flight");
    ws.receive({ type: "ack", clientMessageId: "cmid-2", messageId: "M2", ts: timers.now });
    assert.deepEqual(sentIds(ws), ["cmid-2", "cmid-1"]);
  });

  test("not_in_room: Retry joins again and the join flushes the message", () => {
    const { chat, timers } = startedChat();
    const ws = connect();
    chat.submit("hello?");
    ws.receive({ type: "error", code: "not_in_room", message: "join first", clientMessageId: "cmid-1" });
    assert.equal(chat.rooms.get("lobby").joined, false);
    chat.retry("cmid-1");
    assert.deepEqual(ws.frames("joinRoom"), [{ action: "joinRoom", room: "lobby" }]);
    assert.equal(ws.frames("sendMessage").length, 1, "held back until the room is joined");
    ws.receive({ type: "joined", room: "lobby" });
    assert.equal(ws.frames("sendMessage").length, 2);
  });

  test("text over the server's limit is refused before it becomes a pending send", () => {
    const { chat, called } = startedChat();
    assert.equal(chat.submit("x".repeat(chat.protocol.limits.maxTextChars + 1)), false);
    assert.equal(chat.pending.size, 0);
    assert.deepEqual(called("notice").at(-1), ["notice", "That message is too long."]);
  });
});
