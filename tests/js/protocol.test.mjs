import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { DEFAULT_LIMITS } from "../../dynamowave/static/js/config.js";
import {
  charLength,
  createProtocol,
  decodeFrame,
  describeError,
  ProtocolError,
  TRANSIENT_ERRORS,
  utf8Length,
} from "../../dynamowave/static/js/protocol.js";

const proto = createProtocol(DEFAULT_LIMITS);
const refusedWith = (code) => (err) => err instanceof ProtocolError && err.code === code;

describe("encoding client frames", () => {
  test("every action is the JSON object the server routes on", () => {
    assert.deepEqual(JSON.parse(proto.sendMessage("lobby", "hi", "c-1")), {
      action: "sendMessage",
      room: "lobby",
      text: "hi",
      clientMessageId: "c-1",
    });
    assert.deepEqual(JSON.parse(proto.joinRoom("general")), { action: "joinRoom", room: "general" });
    assert.deepEqual(JSON.parse(proto.leaveRoom("general")), { action: "leaveRoom", room: "general" });
    assert.deepEqual(JSON.parse(proto.ping()), { action: "ping" });
  });

  test("history pages use the server's default and maximum limits", () => {
    assert.deepEqual(JSON.parse(proto.history("lobby")), { action: "history", room: "lobby", limit: 50 });
    assert.deepEqual(JSON.parse(proto.history("lobby", { limit: 500, before: "TVNHIzE" })), {
      action: "history",
      room: "lobby",
      limit: 100,
      before: "TVNHIzE",
    });
    const small = createProtocol({ ...DEFAULT_LIMITS, historyDefaultLimit: 7, historyMaxLimit: 10 });
    assert.equal(JSON.parse(small.history("lobby")).limit, 7);
    assert.equal(JSON.parse(small.history("lobby", { limit: 0 })).limit, 1);
  });

  test("text length counts characters as the server does (code points, not UTF-16 units)", () => {
    const emoji = "😀".repeat(DEFAULT_LIMITS.maxTextChars); // 8000 UTF-16 units
    assert.equal(proto.textProblem(emoji), null);
    assert.doesNotThrow(() => proto.sendMessage("lobby", emoji, "c-1"));
    assert.equal(proto.textProblem(`${emoji}!`), "payload_too_large");
    assert.throws(() => proto.sendMessage("lobby", `${emoji}!`, "c-1"), refusedWith("payload_too_large"));
  });

  test("empty and whitespace-only text is refused like the server refuses it", () => {
    for (const text of ["", "   ", "\n\t", null, 42]) {
      assert.equal(proto.textProblem(text), "invalid_request", JSON.stringify(text));
    }
    assert.throws(() => proto.sendMessage("lobby", " ", "c-1"), refusedWith("invalid_request"));
  });

  test("limits come from the config, not from copies in the client", () => {
    const strict = createProtocol({ ...DEFAULT_LIMITS, maxTextChars: 5, roomPattern: "[a-z]{1,3}" });
    assert.equal(strict.textProblem("12345"), null);
    assert.equal(strict.textProblem("123456"), "payload_too_large");
    assert.ok(strict.isRoom("abc"));
    assert.ok(!strict.isRoom("lobby"));
    assert.ok(proto.isRoom("lobby"));
  });

  test("a frame over maxFrameBytes is refused before it is sent", () => {
    const tiny = createProtocol({ ...DEFAULT_LIMITS, maxFrameBytes: 120 });
    const fits = "x".repeat(30);
    assert.doesNotThrow(() => tiny.sendMessage("lobby", fits, "c-1"));
    // 30 characters but 90 bytes of UTF-8 (plus the envelope): the byte limit applies, not the character count.
    assert.throws(() => tiny.sendMessage("lobby", "€".repeat(30), "c-1"), refusedWith("payload_too_large"));
  });

  test("room names must match the whole pattern", () => {
    for (const ok of ["lobby", "a", "A-b_9", "x".repeat(64)]) assert.ok(proto.isRoom(ok), ok);
    for (const bad of ["", "a b", "x".repeat(65), "lobby\n", "#lobby", "lobby/x", null, 7]) {
      assert.ok(!proto.isRoom(bad), JSON.stringify(bad));
    }
    assert.throws(() => proto.joinRoom("a b"), refusedWith("invalid_request"));
    assert.throws(() => proto.sendMessage("x".repeat(65), "hi", "c-1"), refusedWith("invalid_request"));
  });
});

describe("any text within the server's character limit fits in a frame", () => {
  const longRoom = "r".repeat(64);
  const longId = "c".repeat(64); // the longest envelope the client can build

  test("4,000 emoji: raw UTF-8 in the frame (no \\uXXXX escapes), under maxFrameBytes", () => {
    assert.equal(DEFAULT_LIMITS.maxFrameBytes, 32768);
    const text = "😀".repeat(4000);
    const frame = proto.sendMessage(longRoom, text, longId);
    assert.doesNotMatch(frame, /\\u/, "JSON.stringify writes non-ASCII as itself, not as escapes");
    const bytes = Buffer.byteLength(frame, "utf8");
    assert.equal(bytes, utf8Length(frame));
    assert.ok(bytes < DEFAULT_LIMITS.maxFrameBytes, `${bytes} bytes`);
    assert.ok(bytes < 4000 * 4 + 200, "4 bytes per emoji plus the envelope");
    assert.equal(JSON.parse(frame).text, text);
  });

  test("the worst characters the server accepts, 4,000 of them, still fit", () => {
    // At most 4 bytes each: astral characters raw, quote, backslash and the allowed controls escaped
    // to 2 bytes, U+2028 raw (3 bytes). JSON.stringify \\u-escapes only what the server refuses.
    const worst = ["😀", '"', "\\", "\n", "\r", "\t", "\u2028", "€"];
    const text = Array.from({ length: 4000 }, (_, i) => worst[i % worst.length]).join("");
    assert.equal(proto.textProblem(text), null);
    const frame = proto.sendMessage(longRoom, text, longId);
    assert.ok(utf8Length(frame) < DEFAULT_LIMITS.maxFrameBytes);
    assert.equal(JSON.parse(frame).text, text);
  });

  test("the pre-send check counts characters like the server's len(): code points", () => {
    // Python's len() of each string (checked with python3), not its UTF-16 length.
    const pythonLen = [["😀", 1], ["e\u0301", 2], ["👍🏽", 2], ["👨‍👩‍👧", 5], ["🇫🇷", 2], ["€", 1], ["a\r\nb", 4]];
    for (const [s, n] of pythonLen) assert.equal(charLength(s), n, JSON.stringify(s));
    const atLimit = "👍🏽".repeat(2000); // 4,000 code points, 8,000 UTF-16 units
    assert.equal(proto.textProblem(atLimit), null);
    assert.equal(proto.textProblem(`${atLimit}a`), "payload_too_large");
    assert.equal(proto.textProblem("😀".repeat(4001)), "payload_too_large");
  });
});

describe("decoding server frames", () => {
  const msg = { type: "message", room: "lobby", messageId: "01J", sender: "bob", text: "hi", ts: 1700000000000 };

  test("known frames decode to the fields the client uses", () => {
    assert.deepEqual(decodeFrame(JSON.stringify(msg)), msg);
    assert.deepEqual(decodeFrame('{"type":"ack","clientMessageId":"c-1","messageId":"01J","ts":5}'), {
      type: "ack",
      clientMessageId: "c-1",
      messageId: "01J",
      ts: 5,
    });
    assert.deepEqual(decodeFrame('{"type":"joined","room":"a"}'), { type: "joined", room: "a" });
    assert.deepEqual(decodeFrame('{"type":"left","room":"a"}'), { type: "left", room: "a" });
    assert.deepEqual(decodeFrame('{"type":"pong","region":"eu-west-1"}'), { type: "pong", region: "eu-west-1" });
  });

  test("error frames carry their clientMessageId only when the server echoed one", () => {
    const frame = '{"type":"error","code":"not_in_room","message":"join first","clientMessageId":"c-9"}';
    assert.deepEqual(decodeFrame(frame), {
      type: "error",
      code: "not_in_room",
      message: "join first",
      clientMessageId: "c-9",
      retryAfterMs: null,
    });
    assert.equal(decodeFrame('{"type":"error","code":"rate_limited","message":"slow down"}').clientMessageId, null);
  });

  test("rate_limited errors carry retryAfterMs when the server sent a usable one", () => {
    const limited = { type: "error", code: "rate_limited", message: "slow down", clientMessageId: "c-1" };
    assert.equal(decodeFrame(JSON.stringify({ ...limited, retryAfterMs: 250 })).retryAfterMs, 250);
    assert.equal(decodeFrame(JSON.stringify({ ...limited, retryAfterMs: 0 })).retryAfterMs, 0);
    for (const odd of [-1, "250", null, true, [250]]) {
      assert.equal(decodeFrame(JSON.stringify({ ...limited, retryAfterMs: odd })).retryAfterMs, null, String(odd));
    }
    assert.equal(decodeFrame(JSON.stringify(limited)).retryAfterMs, null);
    assert.ok(TRANSIENT_ERRORS.has("rate_limited"), "a rate limit is not a verdict on the message");
    assert.match(describeError("rate_limited"), /too quickly/);
  });

  test("history keeps the good messages of a page and drops broken ones", () => {
    const page = { type: "history", room: "lobby", messages: [msg, { ...msg, messageId: 3 }, "junk", null], next: "c" };
    assert.deepEqual(decodeFrame(JSON.stringify(page)), { type: "history", room: "lobby", messages: [msg], next: "c" });
    assert.equal(decodeFrame('{"type":"history","room":"lobby","messages":[]}').next, null);
  });

  test("garbage, wrong shapes and unknown frame types are ignored, never thrown", () => {
    const bad = [
      "not json",
      "",
      "null",
      "42",
      '"message"',
      "[]",
      "{}",
      '{"type":7}',
      '{"type":"surprise","room":"lobby"}',
      '{"type":"__proto__"}',
      '{"type":"toString"}',
      JSON.stringify({ ...msg, messageId: undefined }),
      JSON.stringify({ ...msg, ts: "yesterday" }),
      JSON.stringify({ ...msg, text: { html: "<b>" } }),
      '{"type":"ack","messageId":"01J"}',
      '{"type":"history","room":"lobby","messages":"nope"}',
      '{"type":"joined"}',
    ];
    for (const data of bad) assert.equal(decodeFrame(data), null, data);
    assert.equal(decodeFrame(new ArrayBuffer(4)), null);
    assert.equal(decodeFrame(undefined), null);
  });
});

test("error codes have friendly sentences, and unknown codes a generic one", () => {
  assert.match(describeError("not_in_room"), /not in that room/);
  assert.match(describeError("payload_too_large"), /too long/);
  for (const odd of ["brand_new_code", "__proto__", "toString", undefined]) {
    assert.equal(describeError(odd), "Something went wrong.");
  }
});
