// DynamoWave browser client: plain JS, no build step, no dependencies.
// Wire protocol v1 (see DESIGN.md). Every piece of user data reaches the DOM through textContent,
// never innerHTML, so a message like <img onerror=...> is shown as text.
"use strict";

(() => {
  const PING_INTERVAL_MS = 5 * 60 * 1000; // API Gateway drops idle sockets after 10 minutes
  const PONG_TIMEOUT_MS = 20 * 1000; // no pong by then: the socket is dead, reconnect
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_CAP_MS = 30 * 1000;
  const STABLE_AFTER_MS = 10 * 1000; // only reset the backoff once a connection has lasted a while
  const HISTORY_PAGE = 50;
  const MAX_TEXT = 4000;
  const ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;
  const NAME_KEY = "dynamowave.name";
  const TOKEN_KEY = "dynamowave.token";

  const ERROR_TEXT = {
    invalid_json: "The server could not read that request.",
    unknown_action: "The server does not know that action.",
    invalid_request: "That request was not valid.",
    payload_too_large: "That message is too long.",
    rate_limited: "You are sending messages too quickly. Please wait a moment.",
    not_in_room: "You are not in that room. Join it again to send messages there.",
    unauthorized: "You are not authorised. Check your token.",
    internal: "Something went wrong on the server. Please try again.",
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $("status"),
    nameForm: $("name-form"),
    nameInput: $("name-input"),
    nameButton: $("name-button"),
    tokenFields: document.querySelectorAll(".token-field"),
    tokenInput: $("token-input"),
    rooms: $("rooms"),
    joinForm: $("join-form"),
    roomInput: $("room-input"),
    roomTitle: $("room-title"),
    leaveButton: $("leave-button"),
    scroller: $("scroller"),
    loadOlder: $("load-older"),
    empty: $("empty"),
    messages: $("messages"),
    notice: $("notice"),
    composer: $("composer"),
    input: $("message-input"),
    send: $("send-button"),
    template: $("message-template"),
  };

  // ---- state ------------------------------------------------------------------------------
  const state = {
    config: null,
    ws: null,
    online: false,
    attempt: 0, // consecutive failed connection attempts, drives the backoff
    reconnectTimer: null,
    countdownTimer: null,
    pingTimer: null,
    pongTimer: null,
    stableTimer: null,
    opened: false, // did the current socket ever open (false: handshake refused or server down)
    name: "",
    token: "",
    active: null, // room shown in the main pane
    rooms: new Map(), // room -> RoomState, in join order
    pending: new Map(), // clientMessageId -> {room, text, ts, state: "sending"|"failed", node}
    myMessageIds: new Set(), // acked ids: our own messages, styled as such
    noticeTimer: null,
  };

  function newRoom(name) {
    return {
      name,
      joined: false, // the server has confirmed membership on the current socket
      messages: [], // sorted by (ts, messageId); {messageId, sender, text, ts, node}
      byId: new Map(),
      next: null, // history cursor for "load older"
      historyLoaded: false,
      olderInFlight: false,
      unread: 0,
      tab: null,
    };
  }

  // ---- helpers ------------------------------------------------------------------------------
  function randomId() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    // crypto.randomUUID needs a secure context; plain http on a LAN address is not one.
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  function loadStored(key) {
    try {
      return localStorage.getItem(key) || "";
    } catch {
      return ""; // storage can be disabled (privacy mode); the client still works
    }
  }

  function store(key, value) {
    try {
      if (value) localStorage.setItem(key, value);
      else localStorage.removeItem(key);
    } catch {
      /* ignore: see loadStored */
    }
  }

  function roomFromHash() {
    // Accept both "#general" and "#room=general".
    const raw = decodeURIComponent(location.hash.replace(/^#/, "")).replace(/^room=/, "");
    return ROOM_RE.test(raw) ? raw : null;
  }

  function setStatus(stateName, text) {
    el.status.dataset.state = stateName;
    el.status.textContent = text;
  }

  function showNotice(text, detail) {
    el.notice.textContent = text;
    el.notice.title = detail || "";
    el.notice.hidden = false;
    clearTimeout(state.noticeTimer);
    state.noticeTimer = setTimeout(() => {
      el.notice.hidden = true;
    }, 8000);
  }

  function formatTime(ts) {
    const d = new Date(ts);
    return Number.isFinite(d.getTime())
      ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : "";
  }

  function nearBottom() {
    const s = el.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  function scrollToBottom() {
    el.scroller.scrollTop = el.scroller.scrollHeight;
  }

  // ---- rendering ----------------------------------------------------------------------------
  function renderMessageNode(msg, extraClass) {
    const node = el.template.content.firstElementChild.cloneNode(true);
    if (extraClass) node.classList.add(extraClass);
    node.querySelector(".sender").textContent = msg.sender || "anonymous";
    const time = node.querySelector(".time");
    time.textContent = formatTime(msg.ts);
    if (Number.isFinite(msg.ts)) time.dateTime = new Date(msg.ts).toISOString();
    node.querySelector(".text").textContent = msg.text;
    if (msg.messageId) node.dataset.messageId = msg.messageId;
    return node;
  }

  function isMine(msg) {
    return state.myMessageIds.has(msg.messageId) || (state.name !== "" && msg.sender === state.name);
  }

  function compareMsg(a, b) {
    if (a.ts !== b.ts) return a.ts - b.ts;
    return a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0;
  }

  // Insert into the sorted list; returns false if we already had it (de-duplication by messageId).
  function addMessage(room, msg) {
    if (!msg || typeof msg.messageId !== "string" || room.byId.has(msg.messageId)) return false;
    const m = {
      messageId: msg.messageId,
      sender: String(msg.sender ?? ""),
      text: String(msg.text ?? ""),
      ts: Number(msg.ts),
      node: null,
    };
    // Most messages arrive in order: search from the end.
    let i = room.messages.length;
    while (i > 0 && compareMsg(room.messages[i - 1], m) > 0) i--;
    room.messages.splice(i, 0, m);
    room.byId.set(m.messageId, m);
    m.node = renderMessageNode(m, isMine(m) ? "mine" : null);
    if (room === activeRoom()) {
      const before = room.messages[i + 1];
      el.messages.insertBefore(m.node, before ? before.node : firstPendingNode());
      el.empty.hidden = true;
    }
    return true;
  }

  function firstPendingNode() {
    for (const p of state.pending.values()) {
      if (p.room === state.active && p.node && p.node.parentNode === el.messages) return p.node;
    }
    return null;
  }

  function activeRoom() {
    return state.rooms.get(state.active) || null;
  }

  function renderActiveRoom() {
    const room = activeRoom();
    el.messages.replaceChildren();
    el.roomTitle.textContent = room ? `#${room.name}` : "No room";
    el.leaveButton.disabled = !room;
    if (room) {
      room.unread = 0;
      for (const m of room.messages) el.messages.appendChild(m.node);
      for (const p of state.pending.values()) if (p.room === room.name) el.messages.appendChild(p.node);
      if (history.replaceState && roomFromHash() !== room.name) {
        history.replaceState(null, "", `#${encodeURIComponent(room.name)}`);
      }
    }
    el.empty.hidden = !room || !room.historyLoaded || el.messages.children.length > 0;
    updateLoadOlder();
    renderRooms();
    updateComposer();
    scrollToBottom();
  }

  function renderRooms() {
    el.rooms.replaceChildren();
    for (const room of state.rooms.values()) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "room-tab";
      b.dataset.room = room.name;
      b.dataset.testid = "room-tab";
      b.textContent = `#${room.name}`;
      if (room.name === state.active) b.setAttribute("aria-current", "true");
      if (!room.joined) b.classList.add("not-joined");
      if (room.unread > 0) {
        const badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = String(room.unread);
        badge.setAttribute("aria-label", `${room.unread} unread`);
        b.appendChild(badge);
      }
      b.addEventListener("click", () => switchRoom(room.name));
      li.appendChild(b);
      el.rooms.appendChild(li);
    }
  }

  function updateLoadOlder() {
    const room = activeRoom();
    el.loadOlder.hidden = !room || !room.next;
    el.loadOlder.disabled = !state.online || !room || room.olderInFlight;
    el.loadOlder.textContent = room && room.olderInFlight ? "Loading…" : "Load older messages";
  }

  function updateComposer() {
    const room = activeRoom();
    // Typing is allowed while offline (messages queue as pending and go out on reconnect);
    // only a missing name or room blocks it.
    const usable = Boolean(state.name && room);
    el.input.disabled = !usable;
    el.send.disabled = !usable;
  }

  // ---- pending (sent, not yet acknowledged) messages -----------------------------------------
  function renderPending(p) {
    const node = renderMessageNode({ sender: state.name, text: p.text, ts: p.ts }, "mine");
    node.classList.add("pending");
    node.dataset.clientMessageId = p.clientMessageId;
    node.setAttribute("aria-busy", "true");
    node.querySelector(".state").textContent = "sending…";
    return node;
  }

  function markFailed(p, reason) {
    p.state = "failed";
    p.node.classList.add("failed");
    p.node.removeAttribute("aria-busy");
    const s = p.node.querySelector(".state");
    s.replaceChildren();
    s.append(`not sent: ${reason} `);
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "link";
    retry.textContent = "Retry";
    retry.addEventListener("click", () => {
      if (state.rooms.has(p.room) && !state.rooms.get(p.room).joined && state.online) {
        sendFrame({ action: "joinRoom", room: p.room }); // not_in_room: rejoin, then it is flushed
      }
      p.state = "sending";
      p.node.classList.remove("failed");
      p.node.setAttribute("aria-busy", "true");
      s.textContent = "sending…";
      sendPending(p);
    });
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "link";
    discard.textContent = "Discard";
    discard.addEventListener("click", () => {
      state.pending.delete(p.clientMessageId);
      p.node.remove();
    });
    s.append(retry, " ", discard);
  }

  function sendPending(p) {
    // Only into a room this socket has joined, or the server answers not_in_room; the rest is
    // flushed when the "joined" frame arrives (same clientMessageId, so resending is idempotent).
    const room = state.rooms.get(p.room);
    if (!state.online || !room || !room.joined) return;
    sendFrame({ action: "sendMessage", room: p.room, text: p.text, clientMessageId: p.clientMessageId });
  }

  function flushPending(roomName) {
    for (const p of state.pending.values()) {
      if (p.room === roomName && p.state === "sending") sendPending(p);
    }
  }

  function submitMessage() {
    const room = activeRoom();
    const text = el.input.value;
    if (!room || !state.name || text.trim() === "") return;
    if ([...text].length > MAX_TEXT) {
      showNotice(ERROR_TEXT.payload_too_large);
      return;
    }
    const p = {
      clientMessageId: randomId(),
      room: room.name,
      text,
      ts: Date.now(),
      state: "sending",
      node: null,
    };
    p.node = renderPending(p);
    state.pending.set(p.clientMessageId, p);
    el.messages.appendChild(p.node);
    el.empty.hidden = true;
    scrollToBottom();
    el.input.value = "";
    autosize();
    // Offline: it stays pending and is sent (same clientMessageId, so idempotent) on reconnect.
    sendPending(p);
  }

  // ---- socket ------------------------------------------------------------------------------
  function sendFrame(obj) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(JSON.stringify(obj));
    return true;
  }

  function socketUrl() {
    const url = new URL(state.config.websocketUrl, location.href);
    // A server bound to 0.0.0.0 advertises an address browsers cannot dial; use the page's host.
    if (url.hostname === "0.0.0.0") url.hostname = location.hostname;
    url.searchParams.set("name", state.name);
    url.searchParams.set("room", state.active || "lobby");
    if (state.config.auth === "dev" && state.token) url.searchParams.set("token", state.token);
    return url.toString();
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    clearInterval(state.countdownTimer);
    if (!state.name || !state.config) return;
    if (!state.active) {
      ensureRoom("lobby");
      state.active = "lobby";
      renderActiveRoom();
    }
    closeSocket();
    setStatus(state.attempt === 0 ? "connecting" : "reconnecting", "Connecting…");
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    state.opened = false;
    ws.addEventListener("open", () => {
      if (state.ws !== ws) return;
      state.opened = true;
      onOpen();
    });
    ws.addEventListener("message", (ev) => {
      if (state.ws !== ws) return;
      onFrame(ev.data);
    });
    ws.addEventListener("close", (ev) => {
      if (state.ws !== ws) return;
      onClose(ev);
    });
    // "error" is always followed by "close", which does the work.
  }

  function closeSocket() {
    const ws = state.ws;
    state.ws = null;
    state.online = false;
    clearInterval(state.pingTimer);
    clearTimeout(state.pongTimer);
    clearTimeout(state.stableTimer);
    if (ws && ws.readyState <= WebSocket.OPEN) {
      try {
        ws.close(1000, "client closing");
      } catch {
        /* already closing */
      }
    }
  }

  function onOpen() {
    state.online = true;
    setStatus("online", `Online as ${state.name}`);
    state.stableTimer = setTimeout(() => {
      state.attempt = 0;
    }, STABLE_AFTER_MS);
    state.pingTimer = setInterval(ping, PING_INTERVAL_MS);
    // The query-string room is joined by $connect; every other room must be joined again,
    // because memberships belong to the old (dead) connection id.
    for (const room of state.rooms.values()) {
      room.joined = room.name === state.active;
      if (room.joined) requestLatest(room);
      else sendFrame({ action: "joinRoom", room: room.name });
    }
    // Anything typed while offline, or whose ack was lost with the old socket, goes out now.
    if (state.active) flushPending(state.active);
    renderRooms();
    updateLoadOlder();
    updateComposer();
  }

  function onClose() {
    const refused = !state.opened;
    closeSocket();
    for (const room of state.rooms.values()) room.joined = false;
    renderRooms();
    updateLoadOlder();
    // A browser sees no status code for a rejected upgrade, so a refused $connect and a server
    // that is down look alike: always retry with backoff, and hint at the token when auth is on.
    scheduleReconnect(refused && state.config && state.config.auth === "dev" ? "Not connected (check your token). " : "");
  }

  function scheduleReconnect(prefix = "") {
    clearTimeout(state.reconnectTimer);
    clearInterval(state.countdownTimer);
    // Exponential backoff with full jitter (AWS architecture blog), but never below 250 ms so a
    // server restart is not hammered by every tab at once.
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** state.attempt);
    const delay = Math.max(250, Math.floor(Math.random() * ceiling));
    state.attempt = Math.min(state.attempt + 1, 16);
    const at = Date.now() + delay;
    const tick = () => {
      const s = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      setStatus("reconnecting", `${prefix}${s > 0 ? `Reconnecting in ${s} s…` : "Reconnecting…"}`);
    };
    tick();
    state.countdownTimer = setInterval(tick, 1000);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (state.online || !state.name || !state.config) return;
    state.attempt = 0;
    connect();
  }

  function ping() {
    if (!sendFrame({ action: "ping" })) return;
    clearTimeout(state.pongTimer);
    state.pongTimer = setTimeout(() => {
      // Half-open socket (laptop slept, NAT dropped us): force a reconnect.
      if (state.ws) onClose();
    }, PONG_TIMEOUT_MS);
  }

  function requestLatest(room) {
    sendFrame({ action: "history", room: room.name, limit: HISTORY_PAGE });
  }

  function requestOlder() {
    const room = activeRoom();
    if (!room || !room.next || room.olderInFlight) return;
    room.olderInFlight = true;
    sendFrame({ action: "history", room: room.name, limit: HISTORY_PAGE, before: room.next });
    updateLoadOlder();
  }

  // ---- frames from the server -----------------------------------------------------------------
  function onFrame(data) {
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return; // not ours to fix; ignore garbage rather than break the page
    }
    if (!f || typeof f !== "object") return;
    switch (f.type) {
      case "message":
        onMessage(f);
        break;
      case "ack":
        onAck(f);
        break;
      case "history":
        onHistory(f);
        break;
      case "joined":
        onJoined(f);
        break;
      case "left":
        onLeft(f);
        break;
      case "pong":
        clearTimeout(state.pongTimer);
        if (f.region) setStatus("online", `Online as ${state.name} · ${f.region}`);
        break;
      case "error":
        onError(f);
        break;
      default:
        break; // newer server, unknown frame: ignore
    }
  }

  function onMessage(f) {
    const room = state.rooms.get(f.room);
    if (!room) return; // a room we already left
    const stick = nearBottom();
    const known = room.byId.get(f.messageId);
    if (known) {
      // Our own message, already shown from its ack: take the server's sanitized sender name.
      known.sender = String(f.sender ?? known.sender);
      known.node.querySelector(".sender").textContent = known.sender || "anonymous";
      return;
    }
    if (!addMessage(room, f)) return;
    if (room.name === state.active) {
      if (stick || state.myMessageIds.has(f.messageId)) scrollToBottom();
    } else {
      room.unread += 1;
      renderRooms();
    }
  }

  function onAck(f) {
    const p = state.pending.get(f.clientMessageId);
    if (!p) return;
    state.myMessageIds.add(f.messageId);
    p.messageId = f.messageId;
    const room = state.rooms.get(p.room);
    if (room && room.byId.has(f.messageId)) {
      // The broadcast beat the ack: the message is already shown; just mark it as ours.
      const m = room.byId.get(f.messageId);
      m.node.classList.add("mine");
      p.node.remove();
      state.pending.delete(p.clientMessageId);
      return;
    }
    // Ack first (the usual order): turn the pending copy into the real message now, so it does
    // not look stuck if the broadcast to us is slow or lost.
    state.pending.delete(p.clientMessageId);
    p.node.remove();
    if (room) {
      addMessage(room, { messageId: f.messageId, sender: state.name, text: p.text, ts: Number(f.ts) || p.ts });
      if (room.name === state.active) scrollToBottom();
    }
  }

  function onHistory(f) {
    const room = state.rooms.get(f.room);
    if (!room || !Array.isArray(f.messages)) return;
    const older = room.olderInFlight;
    const hadOldest = room.messages.length ? room.messages[0] : null;
    const prevHeight = el.scroller.scrollHeight;
    const prevTop = el.scroller.scrollTop;
    for (const m of f.messages) addMessage(room, m);
    if (older) {
      room.olderInFlight = false;
      room.next = f.next || null;
    } else if (!room.historyLoaded || !hadOldest) {
      // First page of this room. A refresh after a reconnect keeps the deeper cursor we had.
      room.next = f.next || null;
    }
    room.historyLoaded = true;
    if (room.name === state.active) {
      el.empty.hidden = el.messages.children.length > 0;
      if (older) {
        // Keep the reader's place when older messages are inserted above.
        el.scroller.scrollTop = prevTop + (el.scroller.scrollHeight - prevHeight);
      } else {
        scrollToBottom();
      }
      updateLoadOlder();
    }
  }

  function ensureRoom(name) {
    let room = state.rooms.get(name);
    if (!room) {
      room = newRoom(name);
      state.rooms.set(name, room);
    }
    return room;
  }

  function onJoined(f) {
    const room = ensureRoom(f.room);
    room.joined = true;
    requestLatest(room);
    flushPending(room.name);
    renderRooms();
  }

  function onLeft(f) {
    const room = state.rooms.get(f.room);
    if (!room) return;
    state.rooms.delete(f.room);
    for (const [cmid, p] of state.pending) if (p.room === f.room) state.pending.delete(cmid);
    if (state.active === f.room) {
      const first = state.rooms.keys().next();
      state.active = first.done ? null : first.value;
    }
    renderActiveRoom();
  }

  function onError(f) {
    const friendly = ERROR_TEXT[f.code] || "Something went wrong.";
    const p = f.clientMessageId ? state.pending.get(f.clientMessageId) : null;
    if (p) markFailed(p, friendly.replace(/\.$/, "").toLowerCase());
    if (f.code === "not_in_room" && p) {
      const room = state.rooms.get(p.room);
      if (room) {
        room.joined = false;
        renderRooms();
      }
    }
    if (!p && state.rooms.size) {
      // A failed history/join request must not leave a spinner behind.
      for (const room of state.rooms.values()) room.olderInFlight = false;
      updateLoadOlder();
    }
    showNotice(friendly, f.message ? String(f.message) : "");
  }

  // ---- user actions ------------------------------------------------------------------------
  function switchRoom(name) {
    if (!ROOM_RE.test(name)) {
      showNotice("Room names are 1 to 64 letters, digits, - or _.");
      return;
    }
    const room = ensureRoom(name);
    state.active = name;
    if (state.online && !room.joined) sendFrame({ action: "joinRoom", room: name });
    else if (!state.ws && state.name) reconnectNow();
    renderActiveRoom();
  }

  function leaveActive() {
    const room = activeRoom();
    if (!room) return;
    if (state.online && room.joined) {
      sendFrame({ action: "leaveRoom", room: room.name });
    } else {
      onLeft({ room: room.name }); // offline: nothing to tell the server
    }
  }

  function saveIdentity() {
    const name = el.nameInput.value.trim();
    if (!name) {
      el.nameInput.focus();
      return;
    }
    const token = el.tokenInput.value.trim();
    const changed = name !== state.name || token !== state.token;
    state.name = name;
    state.token = token;
    store(NAME_KEY, name);
    store(TOKEN_KEY, token);
    el.nameButton.textContent = "Save";
    updateComposer();
    // The display name travels in the $connect query string, so a new name means a new socket.
    if (changed || !state.online) {
      state.attempt = 0;
      connect();
    }
    el.input.focus();
  }

  function autosize() {
    el.input.style.height = "auto";
    el.input.style.height = `${Math.min(el.input.scrollHeight, 160)}px`;
  }

  function bindUi() {
    el.nameForm.addEventListener("submit", (e) => {
      e.preventDefault();
      saveIdentity();
    });
    el.joinForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const name = el.roomInput.value.trim() || "lobby";
      switchRoom(name);
      if (ROOM_RE.test(name)) el.roomInput.value = "";
    });
    el.leaveButton.addEventListener("click", leaveActive);
    el.loadOlder.addEventListener("click", requestOlder);
    el.composer.addEventListener("submit", (e) => {
      e.preventDefault();
      submitMessage();
    });
    el.input.addEventListener("keydown", (e) => {
      // Enter sends, Shift+Enter is a newline; never while an IME is composing a character.
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submitMessage();
      }
    });
    el.input.addEventListener("input", autosize);
    window.addEventListener("hashchange", () => {
      const r = roomFromHash();
      if (r && r !== state.active) switchRoom(r);
    });
    // Network back or tab visible again: do not wait out a long backoff.
    window.addEventListener("online", reconnectNow);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") reconnectNow();
    });
  }

  // ---- start -------------------------------------------------------------------------------
  async function loadConfig() {
    let delay = 1000;
    for (;;) {
      try {
        const res = await fetch("/config.json", { cache: "no-store" });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return await res.json();
      } catch {
        setStatus("offline", `Server unreachable, retrying in ${Math.round(delay / 1000)} s…`);
        await new Promise((r) => setTimeout(r, delay + Math.random() * 500));
        delay = Math.min(delay * 2, BACKOFF_CAP_MS);
      }
    }
  }

  async function main() {
    bindUi();
    state.name = loadStored(NAME_KEY);
    state.token = loadStored(TOKEN_KEY);
    el.nameInput.value = state.name;
    el.tokenInput.value = state.token;
    const initial = roomFromHash() || "lobby";
    ensureRoom(initial);
    state.active = initial;
    renderActiveRoom();
    setStatus("idle", "Loading…");
    state.config = await loadConfig();
    if (state.config.auth === "dev") {
      for (const f of el.tokenFields) f.hidden = false;
    }
    if (state.name) {
      el.nameButton.textContent = "Save";
      connect();
    } else {
      setStatus("idle", "Pick a display name to start");
      el.nameInput.focus();
    }
  }

  // Exposed for debugging in the console and for tests; not an API.
  window.dynamowave = { state, ping };
  main();
})();
