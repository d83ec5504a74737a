import assert from "node:assert/strict";
import { test } from "node:test";

import { createIdentity } from "../../dynamowave/static/js/identity.js";
import { FakeTimers } from "./fakes.mjs";

const CONFIG = {
  auth: "cognito",
  oidc: { clientId: "abc123", cognitoDomain: "login.example.com" },
  idp: { tokenUrl: "/idp/token" },
};

function jwt(claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${enc({ alg: "RS256", kid: "k" })}.${enc(claims)}.c2ln`;
}

/** A page: its URL, sessionStorage, history, the chat it drives and the token endpoint. */
function page(href, { session = {}, answers = [] } = {}) {
  const store = new Map(Object.entries(session));
  const calls = { setIdentity: [], notices: [], fetches: [], assigned: [], replaced: [], account: [] };
  const location = new URL(href);
  location.assign = (url) => calls.assigned.push(url);
  const chat = {
    config: CONFIG,
    name: "",
    token: "",
    online: false,
    setIdentity(name, token) {
      calls.setIdentity.push([name, token]);
      this.name = name;
      this.token = token;
    },
  };
  const identity = createIdentity({
    chat,
    view: {
      notice: (text) => calls.notices.push(text),
      account: (name) => calls.account.push(name),
      status: () => {},
    },
    fetch: async (url, init) => {
      calls.fetches.push({ url, body: Object.fromEntries(new URLSearchParams(init.body)) });
      const body = answers.shift() ?? { error: "unexpected" };
      return { ok: !body.error, status: body.error ? 400 : 200, json: async () => body };
    },
    session: {
      get: (k) => store.get(k) || "",
      set: (k, v) => (v ? store.set(k, v) : store.delete(k)),
    },
    location,
    history: { replaceState: (_s, _t, url) => calls.replaced.push(url) },
    newId: () => "state-1",
    timers: new FakeTimers(),
  });
  return { identity, chat, calls, store };
}

test("the redirect back exchanges the code with the stored verifier and connects with the ID token", async () => {
  const id = jwt({ name: "Alice", exp: Date.now() / 1000 + 3600 });
  const { identity, calls, store } = page("https://chat.example.com/?code=C0DE&state=state-1#ops", {
    session: { "dynamowave.pkce": JSON.stringify({ verifier: "V", state: "state-1" }) },
    answers: [{ id_token: id, access_token: "A", refresh_token: "R" }],
  });
  await identity.startWithProvider(CONFIG);
  assert.deepEqual(calls.replaced, ["/#ops"], "the single-use code leaves the address bar");
  assert.equal(calls.fetches[0].url, "https://login.example.com/oauth2/token");
  assert.equal(calls.fetches[0].body.code_verifier, "V");
  assert.equal(calls.fetches[0].body.code, "C0DE");
  assert.deepEqual(calls.setIdentity, [["Alice", id]]);
  assert.equal(store.has("dynamowave.pkce"), false, "the verifier is used once");
  assert.deepEqual(JSON.parse(store.get("dynamowave.session")), { token: id, refreshToken: "R" });
});

test("a redirect whose state is not ours is refused without an exchange", async () => {
  const { identity, calls } = page("https://chat.example.com/?code=C0DE&state=forged", {
    session: { "dynamowave.pkce": JSON.stringify({ verifier: "V", state: "state-1" }) },
  });
  await identity.startWithProvider(CONFIG);
  assert.equal(calls.fetches.length, 0);
  assert.deepEqual(calls.setIdentity, []);
  assert.match(calls.notices[0], /not for this page/);
  assert.deepEqual(calls.account, [""], "offers to sign in");
});

test("a fresh saved token is used; an expired one is refreshed first", async () => {
  const fresh = jwt({ name: "Bob", exp: Date.now() / 1000 + 3600 });
  const kept = page("https://chat.example.com/", {
    session: { "dynamowave.session": JSON.stringify({ token: fresh, refreshToken: "R" }) },
  });
  await kept.identity.startWithProvider(CONFIG);
  assert.deepEqual(kept.calls.setIdentity, [["Bob", fresh]]);
  assert.equal(kept.calls.fetches.length, 0);

  const renewed = jwt({ name: "Bob", exp: Date.now() / 1000 + 3600, iat: 2 });
  const stale = page("https://chat.example.com/", {
    session: { "dynamowave.session": JSON.stringify({ token: jwt({ exp: 1 }), refreshToken: "R" }) },
    answers: [{ id_token: renewed }],
  });
  await stale.identity.startWithProvider(CONFIG);
  assert.equal(stale.calls.fetches[0].body.grant_type, "refresh_token");
  assert.deepEqual(stale.calls.setIdentity, [["Bob", renewed]]);
});

test("sign-in goes to the hosted UI with an S256 challenge and remembers the verifier", async () => {
  const { identity, calls, store } = page("https://chat.example.com/");
  await identity.startWithProvider(CONFIG);
  await identity.provider.signIn();
  const url = new URL(calls.assigned[0]);
  assert.equal(url.origin + url.pathname, "https://login.example.com/oauth2/authorize");
  assert.equal(url.searchParams.get("code_challenge_method"), "S256");
  assert.equal(url.searchParams.get("state"), "state-1");
  const saved = JSON.parse(store.get("dynamowave.pkce"));
  assert.equal(saved.state, "state-1");
  assert.match(saved.verifier, /^[A-Za-z0-9_-]{43}$/);
});

test("a refused connect asks for a new token, at most every few seconds", async () => {
  const { identity, chat, calls } = page("https://chat.example.com/", {
    session: { "dynamowave.session": JSON.stringify({ token: jwt({ exp: 1 }), refreshToken: "R" }) },
    answers: [{ error: "invalid_grant" }, { id_token: jwt({ name: "C", exp: Date.now() / 1000 + 60 }) }],
  });
  await identity.startWithProvider(CONFIG).catch(() => {});
  chat.config = CONFIG;
  identity.refreshAfterRefusal();
  identity.refreshAfterRefusal(); // within the same few seconds: no second request
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(calls.fetches.length, 2, "one at start, one for the refusal");
});
