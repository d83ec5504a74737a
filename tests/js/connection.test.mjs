import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

import { backoffDelay, Connection, KEEPALIVE, RECONNECT } from "../../dynamowave/static/js/connection.js";
import { FakeTimers, FakeWebSocket } from "./fakes.mjs";

const ALMOST_ONE = () => 0.999999; // the top of each jitter window: the schedule's ceilings

describe("backoff schedule", () => {
  test("full jitter under an exponential ceiling, capped", () => {
    const ceilings = Array.from({ length: 10 }, (_, attempt) => backoffDelay(attempt, ALMOST_ONE));
    assert.deepEqual(ceilings, [499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999, 29999]);
    assert.equal(backoffDelay(3, () => 0.5), 2000);
    assert.equal(backoffDelay(30, () => 0.5), RECONNECT.capMs / 2);
  });

  test("never below the floor, however lucky the draw", () => {
    for (let attempt = 0; attempt < 20; attempt++) assert.equal(backoffDelay(attempt, () => 0), RECONNECT.floorMs);
  });
});

describe("Connection", () => {
  let timers, events, conn;

  function connection({ random = ALMOST_ONE, WebSocket = FakeWebSocket } = {}) {
    events = [];
    const names = ["onConnecting", "onOpen", "onFrame", "onClose", "onRetry"];
    const on = Object.fromEntries(names.map((name) => [name, (arg) => events.push([name, arg])]));
    return new Connection({ WebSocket, timers, now: timers.clock, random, pingData: () => '{"action":"ping"}', on });
  }

  const retries = () => events.filter(([name]) => name === "onRetry").map(([, e]) => e);

  /** Let the server refuse n handshakes in a row, each retry firing exactly when it is due. */
  function refuse(n) {
    for (let i = 0; i < n; i++) {
      FakeWebSocket.last.serverClose();
      timers.advance(retries().at(-1).delay);
    }
  }

  beforeEach(() => {
    FakeWebSocket.reset();
    timers = new FakeTimers();
    conn = connection();
  });

  test("retries follow the backoff schedule, to the millisecond of the injected clock", () => {
    conn.start(() => "ws://server/dev");
    refuse(4);
    assert.deepEqual(
      retries().map((r) => r.delay),
      [499, 999, 1999, 3999],
    );
    assert.equal(FakeWebSocket.instances.length, 5);
    FakeWebSocket.last.serverClose();
    const { delay, at } = retries().at(-1);
    assert.equal(delay, 7999);
    assert.equal(at, timers.now + delay);
    timers.advance(delay - 1);
    assert.equal(FakeWebSocket.instances.length, 5, "not before the delay");
    timers.advance(1);
    assert.equal(FakeWebSocket.instances.length, 6);
  });

  test("the URL is asked again for every attempt", () => {
    let room = "lobby";
    conn.start(() => `ws://server/dev?room=${room}`);
    room = "general";
    refuse(1);
    assert.deepEqual(
      FakeWebSocket.instances.map((ws) => ws.url),
      ["ws://server/dev?room=lobby", "ws://server/dev?room=general"],
    );
  });

  test("a handshake that never opened is reported as refused; a dropped connection is not", () => {
    conn.start(() => "ws://server/dev");
    FakeWebSocket.last.serverClose();
    timers.advance(retries()[0].delay);
    FakeWebSocket.last.open();
    assert.ok(conn.online);
    FakeWebSocket.last.serverClose();
    assert.deepEqual(
      retries().map((r) => r.refused),
      [true, false],
    );
    assert.ok(!conn.online);
  });

  test("a connection that stays up resets the backoff", () => {
    conn.start(() => "ws://server/dev");
    refuse(4);
    FakeWebSocket.last.open();
    timers.advance(RECONNECT.stableAfterMs);
    FakeWebSocket.last.serverClose();
    assert.equal(retries().at(-1).delay, 499, "back to the first step");
  });

  test("a connection dropped before it was stable keeps backing off", () => {
    conn.start(() => "ws://server/dev");
    refuse(4);
    FakeWebSocket.last.open();
    timers.advance(RECONNECT.stableAfterMs - 1);
    FakeWebSocket.last.serverClose();
    assert.equal(retries().at(-1).delay, 7999, "the fifth step, as if it had never opened");
  });

  test("no reconnect after an intentional close", () => {
    conn.start(() => "ws://server/dev");
    const ws = FakeWebSocket.last;
    ws.open();
    conn.close();
    assert.ok(ws.closedByClient);
    ws.serverClose(); // the close event of our own close() arrives later
    timers.advance(10 * RECONNECT.capMs);
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.deepEqual(retries(), []);
    assert.equal(timers.pending, 0, "no ping, pong or retry timer left behind");
  });

  test("close() also cancels a retry already scheduled", () => {
    conn.start(() => "ws://server/dev");
    FakeWebSocket.last.serverClose();
    conn.close();
    timers.advance(10 * RECONNECT.capMs);
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.equal(conn.reconnectNow(), false, "closed on purpose: reconnectNow does nothing");
  });

  test("reconnectNow skips the wait and starts a fresh backoff", () => {
    conn.start(() => "ws://server/dev");
    refuse(5);
    FakeWebSocket.last.serverClose();
    assert.equal(conn.reconnectNow(), true);
    assert.equal(FakeWebSocket.instances.length, 7, "dialled at once");
    FakeWebSocket.last.serverClose();
    assert.equal(retries().at(-1).delay, 499);
    timers.advance(499);
    FakeWebSocket.last.open();
    assert.equal(conn.reconnectNow(), false, "already online");
    assert.equal(FakeWebSocket.instances.length, 8);
  });

  test("keep-alive: pings on schedule; a missing pong means the socket is dead", () => {
    conn.start(() => "ws://server/dev");
    const ws = FakeWebSocket.last;
    ws.open();
    timers.advance(KEEPALIVE.pingEveryMs);
    assert.deepEqual(ws.frames("ping"), [{ action: "ping" }]);
    conn.pong();
    timers.advance(KEEPALIVE.pongTimeoutMs);
    assert.ok(conn.online, "answered in time");
    timers.advance(KEEPALIVE.pingEveryMs - KEEPALIVE.pongTimeoutMs);
    assert.equal(ws.frames("ping").length, 2);
    timers.advance(KEEPALIVE.pongTimeoutMs - 1);
    assert.ok(conn.online);
    timers.advance(1);
    assert.ok(!conn.online);
    assert.ok(ws.closedByClient);
    assert.deepEqual(retries().at(-1), { delay: 499, at: timers.now + 499, refused: false });
  });

  test("ping() is a no-op while offline", () => {
    conn.start(() => "ws://server/dev");
    assert.equal(conn.ping(), false);
    assert.deepEqual(FakeWebSocket.last.sent, []);
  });

  test("events of a replaced socket are ignored", () => {
    conn.start(() => "ws://server/dev");
    const old = FakeWebSocket.last;
    conn.start(() => "ws://server/dev?name=new");
    assert.ok(old.closedByClient);
    old.open();
    old.receive({ type: "pong" });
    old.serverClose();
    assert.deepEqual(
      events.map(([name]) => name),
      ["onConnecting", "onConnecting"],
    );
  });

  test("frames are delivered as received and sending needs an open socket", () => {
    conn.start(() => "ws://server/dev");
    assert.equal(conn.send("x"), false);
    FakeWebSocket.last.open();
    FakeWebSocket.last.receive('{"type":"pong"}');
    assert.deepEqual(events.at(-1), ["onFrame", '{"type":"pong"}']);
    assert.equal(conn.send("x"), true);
  });

  test("a WebSocket constructor that throws is retried like a refused handshake", () => {
    let calls = 0;
    class Exploding {
      constructor() {
        calls += 1;
        throw new SyntaxError("bad URL");
      }
    }
    conn = connection({ WebSocket: Exploding });
    conn.start(() => "nonsense");
    timers.advance(499 + 999);
    assert.equal(calls, 3);
    assert.deepEqual(
      retries().map((r) => [r.delay, r.refused]),
      [
        [499, false],
        [999, false],
        [1999, false],
      ],
    );
  });
});
