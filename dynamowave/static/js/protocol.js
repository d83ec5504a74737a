// Wire protocol v1 as the browser speaks it. The server (functions/chat/protocol.py) is the
// authority; checks here only spare the user a round trip for a frame the server would refuse,
// so they use the server's limits rather than copies of them.
import { DEFAULT_LIMITS } from "./config.js";

/** Sentences for the server's stable error codes; the server's own message goes in a tooltip. */
export const ERROR_TEXT = Object.freeze({
  invalid_json: "The server could not read that request.",
  unknown_action: "The server does not know that action.",
  invalid_request: "That request was not valid.",
  payload_too_large: "That message is too long.",
  rate_limited: "You are sending messages too quickly. Please wait a moment.",
  not_in_room: "You are not in that room. Join it again to send messages there.",
  unauthorized: "You are not authorised. Check your token.",
  internal: "Something went wrong on the server. Please try again.",
  unavailable: "The server is busy. Retrying…",
  conflict: "That message id was already used for another text.",
  limit_exceeded: "A limit was reached.",
});

/**
 * Errors worth the same frame again later, not a verdict on the message: it stays in flight. The
 * outbox's ack timeout resends it; for rate_limited, Outbox.retryAfter resends it after the
 * frame's retryAfterMs.
 */
export const TRANSIENT_ERRORS = Object.freeze(new Set(["unavailable", "rate_limited"]));

export function describeError(code) {
  return Object.hasOwn(ERROR_TEXT, code) ? ERROR_TEXT[code] : "Something went wrong.";
}

/** A frame the client refuses to send; `code` is the one the server would answer with. */
export class ProtocolError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
  }
}

const encoder = new TextEncoder();
export const utf8Length = (s) => encoder.encode(s).length;
// The server counts code points (Python len), not UTF-16 units: an emoji is one character.
export const charLength = (s) => [...s].length;

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isString = (v) => typeof v === "string";
const optionalString = (v) => (isString(v) ? v : null);

function decodeMessage(f) {
  if (!isString(f.room) || !isString(f.messageId) || !isString(f.text)) return null;
  const ts = Number(f.ts);
  if (!Number.isFinite(ts)) return null;
  return { type: "message", room: f.room, messageId: f.messageId, sender: String(f.sender ?? ""), text: f.text, ts };
}

// Each known server frame, checked and reduced to the fields the client uses. A frame that fails
// its check is dropped like garbage: a broken frame must not break the page.
const DECODERS = {
  message: decodeMessage,
  ack: (f) =>
    isString(f.clientMessageId) && isString(f.messageId)
      ? { type: "ack", clientMessageId: f.clientMessageId, messageId: f.messageId, ts: Number(f.ts) || null }
      : null,
  history: (f) =>
    isString(f.room) && Array.isArray(f.messages)
      ? {
          type: "history",
          room: f.room,
          messages: f.messages.map((m) => (isObject(m) ? decodeMessage(m) : null)).filter(Boolean),
          next: optionalString(f.next) || null,
        }
      : null,
  joined: (f) => (isString(f.room) ? { type: "joined", room: f.room } : null),
  left: (f) => (isString(f.room) ? { type: "left", room: f.room } : null),
  pong: (f) => ({ type: "pong", region: optionalString(f.region) }),
  error: (f) => ({
    type: "error",
    code: isString(f.code) ? f.code : "internal",
    message: optionalString(f.message) || "",
    clientMessageId: optionalString(f.clientMessageId),
    // rate_limited: when the same frame may go again (milliseconds); null when absent or invalid.
    retryAfterMs: Number.isFinite(f.retryAfterMs) && f.retryAfterMs >= 0 ? f.retryAfterMs : null,
  }),
};

/** Parse a server frame; null for garbage, bad shapes and frame types this client does not know. */
export function decodeFrame(data) {
  if (!isString(data)) return null;
  let f;
  try {
    f = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObject(f) || !isString(f.type) || !Object.hasOwn(DECODERS, f.type)) return null;
  return DECODERS[f.type](f);
}

/** Encoders and checks bound to the server's limits (config.limits). */
export function createProtocol(limits = DEFAULT_LIMITS) {
  const roomRe = new RegExp(`^(?:${limits.roomPattern})$`);
  const isRoom = (name) => isString(name) && roomRe.test(name);

  function room(name) {
    if (!isRoom(name)) throw new ProtocolError("invalid_request", `not a room name: ${JSON.stringify(name)}`);
    return name;
  }

  function encode(frame) {
    const data = JSON.stringify(frame);
    if (utf8Length(data) > limits.maxFrameBytes) {
      throw new ProtocolError("payload_too_large", `frame exceeds ${limits.maxFrameBytes} bytes`);
    }
    return data;
  }

  /** The error code the server would give this text, or null if it would accept it. */
  function textProblem(text) {
    if (!isString(text) || text.trim() === "") return "invalid_request";
    return charLength(text) > limits.maxTextChars ? "payload_too_large" : null;
  }

  return {
    limits,
    isRoom,
    textProblem,
    decode: decodeFrame,
    sendMessage(roomName, text, clientMessageId) {
      const problem = textProblem(text);
      if (problem) throw new ProtocolError(problem, `text refused: ${problem}`);
      return encode({ action: "sendMessage", room: room(roomName), text, clientMessageId });
    },
    joinRoom: (name) => encode({ action: "joinRoom", room: room(name) }),
    leaveRoom: (name) => encode({ action: "leaveRoom", room: room(name) }),
    /** Newest page, or one of: before (older page), since (epoch ms, forwards), after (forwards). */
    history(name, { limit = limits.historyDefaultLimit, before = null, since = null, after = null } = {}) {
      const capped = Math.max(1, Math.min(Math.trunc(limit) || 1, limits.historyMaxLimit));
      const frame = { action: "history", room: room(name), limit: capped };
      if (before) frame.before = before;
      else if (after) frame.after = after;
      else if (since !== null && Number.isFinite(since)) frame.since = Math.max(0, Math.trunc(since));
      return encode(frame);
    },
    ping: () => encode({ action: "ping" }),
  };
}
