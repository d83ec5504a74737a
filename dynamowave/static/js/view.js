// The page around the message pane: status line, notices, room list, forms. Nothing here knows
// the protocol; the chat controller tells it what to show.
import { createMessageList } from "./message-list.js";

const NOTICE_MS = 8000;
const COMPOSER_MAX_PX = 160;
const ROOM_HINT = "Room names are 1 to 64 letters, digits, - or _.";

export function createView(doc, win, { isMine, onRetry, onDiscard, onPickRoom }) {
  const $ = (id) => doc.getElementById(id);
  const el = {
    status: $("status"),
    nameInput: $("name-input"),
    nameButton: $("name-button"),
    nameForm: $("name-form"),
    nameLabel: $("name-label"),
    account: $("account"),
    accountName: $("account-name"),
    signIn: $("sign-in-button"),
    signOut: $("sign-out-button"),
    authNote: $("auth-note"),
    rooms: $("rooms"),
    roomInput: $("room-input"),
    roomTitle: $("room-title"),
    leaveButton: $("leave-button"),
    loadOlder: $("load-older"),
    notice: $("notice"),
    input: $("message-input"),
    send: $("send-button"),
  };
  const messages = createMessageList(
    doc,
    { scroller: $("scroller"), list: $("messages"), empty: $("empty"), template: $("message-template") },
    { isMine, onRetry, onDiscard },
  );
  let noticeTimer = null;
  let countdownTimer = null;
  let isRoom = () => true;

  function setStatus(state, text) {
    el.status.dataset.state = state;
    el.status.textContent = text;
  }

  function roomTab(room, active) {
    const b = doc.createElement("button");
    b.type = "button";
    b.className = "room-tab";
    b.dataset.room = room.name;
    b.dataset.testid = "room-tab";
    b.textContent = `#${room.name}`;
    if (room.name === active) b.setAttribute("aria-current", "true");
    if (!room.joined) b.classList.add("not-joined");
    if (room.unread > 0) {
      const badge = doc.createElement("span");
      badge.className = "badge";
      badge.textContent = String(room.unread);
      badge.setAttribute("aria-label", `${room.unread} unread`);
      b.appendChild(badge);
    }
    b.addEventListener("click", () => onPickRoom(room.name));
    const li = doc.createElement("li");
    li.appendChild(b);
    return li;
  }

  return {
    el,
    messages,
    roomHint: ROOM_HINT,

    status(state, text) {
      win.clearInterval(countdownTimer);
      setStatus(state, text);
    },

    /** "Reconnecting in N s…" until the retry at `at` (ms since the epoch). */
    countdown(prefix, at) {
      win.clearInterval(countdownTimer);
      const tick = () => {
        const s = Math.max(0, Math.ceil((at - Date.now()) / 1000));
        setStatus("reconnecting", `${prefix}${s > 0 ? `Reconnecting in ${s} s…` : "Reconnecting…"}`);
      };
      tick();
      countdownTimer = win.setInterval(tick, 1000);
    },

    notice(text, detail = "") {
      el.notice.textContent = text;
      el.notice.title = detail;
      el.notice.hidden = false;
      win.clearTimeout(noticeTimer);
      noticeTimer = win.setTimeout(() => {
        el.notice.hidden = true;
      }, NOTICE_MS);
    },

    /** Input constraints from the server's limits (the markup carries none of its own). */
    applyLimits(limits, roomCheck) {
      isRoom = roomCheck;
      el.nameInput.maxLength = limits.maxNameChars;
      el.input.maxLength = limits.maxTextChars;
      el.roomInput.placeholder = limits.defaultRoom;
      this.checkRoomInput();
    },

    /** The room pattern is the server's regex: validate with it rather than a pattern attribute. */
    checkRoomInput() {
      const value = el.roomInput.value.trim();
      el.roomInput.setCustomValidity(value === "" || isRoom(value) ? "" : ROOM_HINT);
    },

    /** What the header offers for the auth mode, and a plain statement of what a name proves. */
    authMode(mode) {
      const provider = mode === "cognito" || mode === "oidc";
      el.nameForm.hidden = provider;
      el.account.hidden = !provider;
      if (mode === "dev") {
        el.nameLabel.textContent = "Sign in as";
        el.nameButton.textContent = "Sign in";
      }
      const notes = {
        off: "Names are not authenticated: anyone can pick any name, including yours.",
        dev: "Local sign-in (dynamowave dev --auth dev): no password; the runtime's own issuer signs the token.",
      };
      el.authNote.textContent = notes[mode] || "";
      el.authNote.hidden = !notes[mode];
    },

    /** Cognito/OIDC: who is signed in (empty: nobody, offer the sign-in button). */
    account(name) {
      el.accountName.textContent = name ? `Signed in as ${name}` : "Not signed in";
      el.signIn.hidden = Boolean(name);
      el.signOut.hidden = !name;
    },

    identity(name, saved) {
      el.nameInput.value = name;
      if (saved && el.nameButton.textContent === "Connect") el.nameButton.textContent = "Save";
    },

    rooms(list, active) {
      el.rooms.replaceChildren(...list.map((room) => roomTab(room, active)));
    },

    /** Title, leave button, URL hash and message pane for the active room (or none). */
    showRoom(room, pending) {
      el.roomTitle.textContent = room ? `#${room.name}` : "No room";
      el.leaveButton.disabled = !room;
      const hash = room ? `#${encodeURIComponent(room.name)}` : null;
      if (hash && win.location.hash !== hash) win.history.replaceState(null, "", hash);
      messages.show(room, pending);
    },

    loadOlder(room, online) {
      el.loadOlder.hidden = !room || !room.next;
      el.loadOlder.disabled = !online || !room || room.olderInFlight;
      el.loadOlder.textContent = room && room.olderInFlight ? "Loading…" : "Load older messages";
    },

    /** Typing is allowed while offline (sends queue as pending); only a missing name or room blocks it. */
    composer(usable) {
      el.input.disabled = !usable;
      el.send.disabled = !usable;
    },

    clearComposer() {
      el.input.value = "";
      this.autosize();
    },

    autosize() {
      el.input.style.height = "auto";
      el.input.style.height = `${Math.min(el.input.scrollHeight, COMPOSER_MAX_PX)}px`;
    },
  };
}
