// Entry point (index.html loads it as a module): wires the DOM, storage and the browser's
// WebSocket to the chat controller.
import { Chat } from "./chat.js";
import { loadConfig } from "./config.js";
import { Connection } from "./connection.js";
import { createIdentity } from "./identity.js";
import { createView } from "./view.js";

const NAME_KEY = "dynamowave.name";

// Storage can be disabled (privacy mode); the client works without remembering anything.
function store(area) {
  return {
    get(key) {
      try {
        return globalThis[area].getItem(key) || "";
      } catch {
        return "";
      }
    },
    set(key, value) {
      try {
        if (value) globalThis[area].setItem(key, value);
        else globalThis[area].removeItem(key);
      } catch {
        // see get()
      }
    },
  };
}
const storage = store("localStorage");
const session = store("sessionStorage");

function randomId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; plain http on a LAN address is not one.
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Both "#general" and "#room=general" name a room. */
function roomFromHash(isRoom) {
  let raw;
  try {
    raw = decodeURIComponent(location.hash.replace(/^#/, "")).replace(/^room=/, "");
  } catch {
    return null; // a malformed %-escape
  }
  return isRoom(raw) ? raw : null;
}

const view = createView(document, window, {
  isMine: (m) => chat.isMine(m),
  onRetry: (id) => chat.retry(id),
  onDiscard: (id) => chat.discard(id),
  onPickRoom: (name) => chat.switchRoom(name),
});
const chat = new Chat({
  view,
  connect: (options) => new Connection({ WebSocket, ...options }),
  newId: randomId,
  pageHref: () => location.href,
});
const { el } = view;

const identity = createIdentity({
  chat,
  view,
  fetch: (...args) => fetch(...args),
  session,
  location,
  history,
  newId: randomId,
});

async function saveIdentity() {
  const name = el.nameInput.value.trim();
  if (!name) {
    el.nameInput.focus();
    return;
  }
  storage.set(NAME_KEY, name);
  view.identity(name, true);
  if (chat.config?.auth === "dev") {
    try {
      await identity.dev.signIn(name);
    } catch (err) {
      view.notice(`Sign-in failed: ${err.message}`);
      return;
    }
  } else chat.setIdentity(name, "");
  el.input.focus();
}

function submitMessage() {
  if (chat.submit(el.input.value)) view.clearComposer();
}

function onSubmit(form, action) {
  document.getElementById(form).addEventListener("submit", (e) => {
    e.preventDefault();
    action();
  });
}

function bindUi() {
  onSubmit("name-form", saveIdentity);
  el.signIn.addEventListener("click", () => identity.provider.signIn());
  el.signOut.addEventListener("click", () => identity.signOut());
  onSubmit("composer", submitMessage);
  onSubmit("join-form", () => {
    const name = el.roomInput.value.trim() || chat.protocol.limits.defaultRoom;
    if (chat.switchRoom(name)) el.roomInput.value = "";
  });
  el.roomInput.addEventListener("input", () => view.checkRoomInput());
  el.leaveButton.addEventListener("click", () => chat.leaveActive());
  el.loadOlder.addEventListener("click", () => chat.requestOlder());
  el.input.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter is a newline; never while an IME is composing a character.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitMessage();
    }
  });
  el.input.addEventListener("input", () => view.autosize());
  window.addEventListener("hashchange", () => {
    const room = roomFromHash(chat.protocol.isRoom);
    if (room && room !== chat.rooms.active) chat.switchRoom(room);
  });
  // Network back or tab visible again: do not wait out a long backoff.
  window.addEventListener("online", () => chat.reconnectNow());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") chat.reconnectNow();
  });
}

async function main() {
  bindUi();
  view.applyLimits(chat.protocol.limits, chat.protocol.isRoom); // defaults until config arrives
  const remembered = storage.get(NAME_KEY);
  view.identity(remembered, false);
  chat.rooms.setActive(roomFromHash(chat.protocol.isRoom) || chat.protocol.limits.defaultRoom);
  chat.showActive();
  view.status("idle", "Loading…");
  const config = await loadConfig({
    fetch: (...args) => fetch(...args),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    onRetry: (ms) => view.status("offline", `Server unreachable, retrying in ${Math.round(ms / 1000)} s…`),
  });
  chat.setConfig(config);
  chat.onRefused = () => identity.refreshAfterRefusal();
  view.authMode(config.auth);
  // A name submitted while the configuration was loading is in chat.name (setIdentity could not
  // start without the configuration): it wins over the one remembered from the last visit.
  const name = chat.name || remembered;
  if (config.auth === "cognito" || config.auth === "oidc") {
    await identity.startWithProvider(config);
  } else if (name) {
    view.identity(name, true);
    if (config.auth === "dev") {
      await identity.dev.signIn(name).catch((err) => view.notice(`Sign-in failed: ${err.message}`));
    } else {
      chat.name = name;
      chat.start();
    }
  } else {
    view.status("idle", config.auth === "dev" ? "Sign in with a name to start" : "Pick a display name to start");
    el.nameInput.focus();
  }
}


// For debugging in the console and for the browser tests; not an API.
window.dynamowave = {
  chat,
  ping: () => chat.ping(),
  state: {
    get ws() {
      return chat.conn.socket;
    },
    get online() {
      return chat.online;
    },
    get config() {
      return chat.config;
    },
    get name() {
      return chat.name;
    },
    get active() {
      return chat.rooms.active;
    },
    rooms: chat.rooms,
    pending: chat.pending,
  },
};
main();
