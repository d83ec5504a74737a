// Server frames (already decoded by protocol.js) applied to the chat's state and view.
import { receiveCatchup } from "./catchup.js";
import { describeError, TRANSIENT_ERRORS } from "./protocol.js";

/** One handler per frame type decodeFrame() can return. */
export function createInbox(chat) {
  const { rooms, pending } = chat;
  const list = () => chat.view.messages;

  function message(f) {
    const room = rooms.get(f.room);
    if (!room) return; // a room we already left
    const known = room.get(f.messageId);
    if (known) {
      // Our own message, already shown from its ack: take the server's sanitized sender name.
      known.sender = f.sender;
      list().setSender(known);
      return;
    }
    const stick = list().nearBottom();
    const i = room.add(f);
    if (i < 0) return;
    if (room.name === rooms.active) {
      list().insert(room, i);
      if (stick || pending.isMine(f.messageId)) list().toBottom();
    } else {
      room.unread += 1;
      chat.renderRooms();
    }
  }

  function ack(f) {
    const p = pending.ack(f);
    if (!p) return;
    chat.outbox.settled(p); // the next queued message goes out
    list().removePending(p);
    const room = rooms.get(p.room);
    const echoed = room?.get(f.messageId);
    if (echoed) {
      list().markMine(echoed); // the broadcast beat the ack
      return;
    }
    // Usually the ack comes first: show the real message now, so it does not look stuck if the
    // broadcast to us is slow or lost.
    const i = room ? room.add({ messageId: f.messageId, sender: chat.name, text: p.text, ts: f.ts || p.ts }) : -1;
    if (i >= 0 && room.name === rooms.active) {
      list().insert(room, i);
      list().toBottom();
    }
  }

  function history(f) {
    const room = rooms.get(f.room);
    if (!room) return;
    const shown = room.name === rooms.active;
    if (room.catchup) {
      catchup(room, shown, f);
      return;
    }
    const apply = () => room.receiveHistory(f, (_, i) => shown && list().insert(room, i));
    if (!shown) {
      apply();
    } else if (room.olderInFlight) {
      list().keepPlace(apply); // older messages go above the reader: keep their place
    } else {
      apply();
      list().toBottom();
    }
    if (shown) {
      list().updateEmpty(room);
      chat.loadOlder();
    }
  }

  /** A forwards page after a reconnect: new messages, like live ones; then the next page. */
  function catchup(room, shown, f) {
    const stick = shown && list().nearBottom();
    let added = 0;
    const more = receiveCatchup(room, f, (_, i) => {
      added += 1;
      if (shown) list().insert(room, i);
    });
    if (more) chat.send(chat.protocol.history(room.name, more));
    if (shown) {
      if (stick) list().toBottom();
      list().updateEmpty(room);
      chat.loadOlder();
    } else if (added > 0) {
      room.unread += added;
      chat.renderRooms();
    }
  }

  function joined(f) {
    const room = rooms.ensure(f.room);
    room.joined = true;
    chat.send(chat.historyRequest(room));
    chat.outbox.pump();
    chat.renderRooms();
  }

  function pong(f) {
    chat.conn.pong();
    if (f.region) chat.view.status("online", `Online as ${chat.name} · ${f.region}`);
  }

  function error(f) {
    const friendly = describeError(f.code);
    if (TRANSIENT_ERRORS.has(f.code) && f.clientMessageId) {
      // Not a verdict on the message: it stays in flight and the ack timeout sends it again
      // with the same clientMessageId (idempotent), keeping the sender's order; a rate-limited
      // one is resent as soon as the server says it may be.
      if (f.code === "rate_limited") chat.outbox.retryAfter(pending.get(f.clientMessageId), f.retryAfterMs ?? 0);
      chat.view.notice(friendly, f.message);
      return;
    }
    const p = pending.fail(f);
    if (p) {
      list().pendingFailed(p, friendly.replace(/\.$/, "").toLowerCase());
      const room = f.code === "not_in_room" ? rooms.get(p.room) : null;
      if (room) {
        room.joined = false;
        chat.renderRooms();
      }
      // Failed (it waits for Retry or Discard): the queue moves on. After not_in_room the room's
      // other messages wait for the join a Retry sends.
      chat.outbox.settled(p);
    } else if (rooms.size) {
      rooms.cancelOlder(); // a failed history or join request must not leave a spinner behind
      chat.loadOlder();
    }
    chat.view.notice(friendly, f.message);
  }

  return { message, ack, history, joined, left: (f) => chat.forget(f.room), pong, error };
}
