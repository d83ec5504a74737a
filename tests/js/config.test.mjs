import assert from "node:assert/strict";
import { test } from "node:test";

import { DEFAULT_LIMITS, loadConfig, normalizeConfig, socketUrl } from "../../dynamowave/static/js/config.js";

const SERVED = {
  websocketUrl: "ws://127.0.0.1:8000/dev",
  stage: "dev",
  region: "eu-west-1",
  auth: "off",
  limits: { ...DEFAULT_LIMITS, maxTextChars: 1000, roomPattern: "[a-z]{1,8}" },
};

test("the server's limits replace the defaults; missing or malformed ones fall back", () => {
  const cfg = normalizeConfig(SERVED);
  assert.equal(cfg.limits.maxTextChars, 1000);
  assert.equal(cfg.limits.roomPattern, "[a-z]{1,8}");
  assert.equal(cfg.region, "eu-west-1");
  const odd = normalizeConfig({ limits: { maxTextChars: "lots", maxFrameBytes: -1, historyMaxLimit: 20 } });
  assert.equal(odd.limits.maxTextChars, DEFAULT_LIMITS.maxTextChars);
  assert.equal(odd.limits.maxFrameBytes, DEFAULT_LIMITS.maxFrameBytes);
  assert.equal(odd.limits.historyMaxLimit, 20);
  assert.deepEqual(normalizeConfig(null).limits, DEFAULT_LIMITS);
  assert.equal(normalizeConfig({ auth: "dev" }).auth, "dev");
  assert.equal(normalizeConfig({ auth: "something-else" }).auth, "off");
  assert.equal(normalizeConfig({ auth: "cognito" }).auth, "cognito");
  assert.equal(normalizeConfig({ auth: "oidc" }).auth, "oidc");
});

test("loadConfig keeps retrying a dead server, backing off, without real waiting", async () => {
  const slept = [];
  const notified = [];
  let calls = 0;
  const fetch = async (url, init) => {
    assert.equal(url, "/config.json");
    assert.equal(init.cache, "no-store");
    calls += 1;
    if (calls <= 2) throw new TypeError("connection refused");
    if (calls <= 6) return { ok: false, status: 502 };
    return { ok: true, json: async () => SERVED };
  };
  const sleep = async (ms) => slept.push(ms);
  const cfg = await loadConfig({ fetch, sleep, random: () => 0, onRetry: (ms) => notified.push(ms) });
  assert.equal(cfg.limits.maxTextChars, 1000);
  assert.deepEqual(slept, [1000, 2000, 4000, 8000, 16000, 30000]);
  assert.deepEqual(notified, slept);
});

test("socket URL: identity and room in the query, token only when auth is on", () => {
  const cfg = normalizeConfig(SERVED);
  const url = new URL(socketUrl(cfg, "http://127.0.0.1:8000/#x", { name: "Zoë & co", room: "general", token: "t" }));
  assert.equal(url.origin + url.pathname, "ws://127.0.0.1:8000/dev");
  assert.equal(url.searchParams.get("name"), "Zoë & co");
  assert.equal(url.searchParams.get("room"), "general");
  assert.equal(url.searchParams.has("token"), false);
  const dev = normalizeConfig({ ...SERVED, auth: "dev" });
  const query = (token) => new URL(socketUrl(dev, "http://h/", { name: "a", room: null, token })).searchParams;
  assert.equal(query("t").get("token"), "t");
  assert.equal(query("").has("token"), false);
  assert.equal(query("").get("room"), "lobby", "the server's default room");
  assert.equal(query("t").has("name"), false, "with auth on, only the token names the user");
  const cognito = normalizeConfig({ ...SERVED, auth: "cognito" });
  const q = new URL(socketUrl(cognito, "https://chat.example.com/", { name: "a", room: "x", token: "jwt" })).searchParams;
  assert.equal(q.get("token"), "jwt");
  assert.equal(q.has("name"), false);
});

test("a server bound to 0.0.0.0 is dialled on the page's host", () => {
  const cfg = normalizeConfig({ ...SERVED, websocketUrl: "ws://0.0.0.0:8000/dev" });
  const url = new URL(socketUrl(cfg, "http://192.168.1.20:8000/", { name: "a", room: "lobby", token: "" }));
  assert.equal(url.host, "192.168.1.20:8000");
});

test("the catch-up margin comes from the server, with the replication margin as the fallback", () => {
  assert.equal(normalizeConfig({ catchUpMarginMs: 25000 }).catchUpMarginMs, 25000);
  assert.equal(normalizeConfig({}).catchUpMarginMs, 10000);
  assert.equal(normalizeConfig({ catchUpMarginMs: -1 }).catchUpMarginMs, 10000);
  assert.equal(normalizeConfig({ catchUpMarginMs: "9" }).catchUpMarginMs, 10000);
});
