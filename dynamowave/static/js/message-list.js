// The message pane of the active room. User data reaches the DOM only through textContent, so a
// message like <img onerror=...> is shown as text.

const STICK_PX = 80; // this close to the bottom, new messages keep the view scrolled down
const SENDING = "sending…";

function formatTime(ts) {
  const d = new Date(ts);
  return Number.isFinite(d.getTime()) ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
}

function linkButton(doc, label, onClick) {
  const b = doc.createElement("button");
  b.type = "button";
  b.className = "link";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

/**
 * el: {scroller, list, empty, template}; isMine(message) decides the "mine" style;
 * onRetry/onDiscard(clientMessageId) are the buttons of a failed send.
 */
export function createMessageList(doc, el, { isMine, onRetry, onDiscard }) {
  const nodes = new WeakMap(); // message or pending entry -> its <li>

  function render({ sender, text, ts }, classes) {
    const node = el.template.content.firstElementChild.cloneNode(true);
    node.classList.add(...classes);
    node.querySelector(".sender").textContent = sender || "anonymous";
    const time = node.querySelector(".time");
    time.textContent = formatTime(ts);
    if (Number.isFinite(ts)) time.dateTime = new Date(ts).toISOString();
    node.querySelector(".text").textContent = text;
    return node;
  }

  function nodeFor(m) {
    let node = nodes.get(m);
    if (!node) {
      node = render(m, isMine(m) ? ["mine"] : []);
      node.dataset.messageId = m.messageId;
      nodes.set(m, node);
    }
    return node;
  }

  function setSending(node) {
    node.classList.remove("failed");
    node.setAttribute("aria-busy", "true");
    node.querySelector(".state").textContent = SENDING;
  }

  const toBottom = () => {
    el.scroller.scrollTop = el.scroller.scrollHeight;
  };

  return {
    nearBottom() {
      const s = el.scroller;
      return s.scrollHeight - s.scrollTop - s.clientHeight < STICK_PX;
    },
    toBottom,

    /** Run fn (which adds messages above) and keep the reader's place. */
    keepPlace(fn) {
      const { scrollHeight, scrollTop } = el.scroller;
      fn();
      el.scroller.scrollTop = scrollTop + (el.scroller.scrollHeight - scrollHeight);
    },

    /** Everything for the room: its messages, then what is still pending there. */
    show(room, pending) {
      el.list.replaceChildren();
      if (room) {
        for (const m of room.messages) el.list.appendChild(nodeFor(m));
        for (const p of pending) if (nodes.has(p)) el.list.appendChild(nodes.get(p));
      }
      this.updateEmpty(room);
      toBottom();
    },

    updateEmpty(room) {
      el.empty.hidden = !room || !room.historyLoaded || el.list.children.length > 0;
    },

    /** room.messages[index] is new; pending copies stay below every confirmed message. */
    insert(room, index) {
      const next = room.messages[index + 1];
      const before = next ? nodeFor(next) : el.list.querySelector(":scope > .pending");
      el.list.insertBefore(nodeFor(room.messages[index]), before);
      el.empty.hidden = true;
    },

    setSender(m) {
      nodeFor(m).querySelector(".sender").textContent = m.sender || "anonymous";
    },

    markMine(m) {
      nodeFor(m).classList.add("mine");
    },

    addPending(p, sender) {
      const node = render({ sender, text: p.text, ts: p.ts }, ["mine", "pending"]);
      node.dataset.clientMessageId = p.clientMessageId;
      setSending(node);
      nodes.set(p, node);
      el.list.appendChild(node);
      el.empty.hidden = true;
    },

    removePending(p) {
      nodes.get(p)?.remove();
    },

    /** Retried: sending again, at the end of the queue (the last of the pending copies). */
    pendingSending(p) {
      const node = nodes.get(p);
      if (!node) return;
      setSending(node);
      el.list.appendChild(node);
    },

    pendingFailed(p, reason) {
      const node = nodes.get(p);
      if (!node) return;
      node.classList.add("failed");
      node.removeAttribute("aria-busy");
      const state = node.querySelector(".state");
      state.replaceChildren(
        `not sent: ${reason} `,
        linkButton(doc, "Retry", () => onRetry(p.clientMessageId)),
        " ",
        linkButton(doc, "Discard", () => onDiscard(p.clientMessageId)),
      );
    },
  };
}
