import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { test } from "node:test";

import {
  authorizeUrl,
  base64url,
  callbackParams,
  devSignIn,
  displayName,
  exchangeCode,
  expiresAt,
  isFresh,
  pkceChallenge,
  pkcePair,
  providerSettings,
  REFRESH,
  refreshDelay,
  refreshTokens,
  TokenScheduler,
} from "../../dynamowave/static/js/auth.js";
import { FakeTimers } from "./fakes.mjs";

/** An unsigned JWT with these claims (the page never verifies: the authorizer does). */
function jwt(claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${enc({ alg: "RS256", kid: "k" })}.${enc(claims)}.c2ln`;
}

const COGNITO = {
  auth: "cognito",
  oidc: { clientId: "abc123", cognitoDomain: "chat-auth.auth.eu-west-1.amazoncognito.com" },
};

// ---- PKCE ----------------------------------------------------------------------------------------

test("S256 challenge matches RFC 7636's example", async () => {
  // RFC 7636, Appendix B.
  const challenge = await pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", webcrypto);
  assert.equal(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
});

test("verifiers are random, 43..128 unreserved characters, and their challenge is S256 of them", async () => {
  const a = await pkcePair(webcrypto);
  const b = await pkcePair(webcrypto);
  assert.notEqual(a.verifier, b.verifier);
  for (const { verifier, challenge } of [a, b]) {
    assert.match(verifier, /^[A-Za-z0-9\-._~]{43,128}$/);
    assert.equal(challenge, await pkceChallenge(verifier, webcrypto));
    const expected = webcrypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    assert.equal(challenge, base64url(new Uint8Array(await expected)));
    assert.doesNotMatch(challenge, /[+/=]/);
  }
});

test("base64url has no padding and the URL-safe alphabet", () => {
  assert.equal(base64url(new Uint8Array([251, 255, 191])), "-_-_");
  assert.equal(base64url(new Uint8Array([1])), "AQ");
});

// ---- provider settings, authorize URL, token endpoint -------------------------------------------

test("Cognito's hosted UI endpoints come from its domain; the redirect is the page itself", () => {
  const s = providerSettings(COGNITO, "https://chat.example.com/app/?x=1#lobby");
  assert.equal(s.authorizationEndpoint, "https://chat-auth.auth.eu-west-1.amazoncognito.com/oauth2/authorize");
  assert.equal(s.tokenEndpoint, "https://chat-auth.auth.eu-west-1.amazoncognito.com/oauth2/token");
  assert.equal(s.redirectUri, "https://chat.example.com/app/");
  assert.equal(s.tokenKind, "id_token");
  assert.equal(providerSettings({ auth: "oidc" }, "https://x/"), null, "no client id: not configured");
  const generic = providerSettings(
    { oidc: { clientId: "c", authorizationEndpoint: "https://idp/auth", tokenEndpoint: "https://idp/token" } },
    "https://x/",
  );
  assert.equal(generic.tokenEndpoint, "https://idp/token");
});

test("the authorize URL asks for a code with an S256 challenge and the state", () => {
  const s = providerSettings(COGNITO, "https://chat.example.com/");
  const url = new URL(authorizeUrl(s, { challenge: "ch", state: "st" }));
  assert.equal(url.origin + url.pathname, s.authorizationEndpoint);
  const q = Object.fromEntries(url.searchParams);
  assert.deepEqual(q, {
    response_type: "code",
    client_id: "abc123",
    redirect_uri: "https://chat.example.com/",
    scope: "openid profile email",
    state: "st",
    code_challenge: "ch",
    code_challenge_method: "S256",
  });
});

function tokenEndpoint(answer) {
  const seen = [];
  const fetch = async (url, init) => {
    seen.push({ url, init, body: Object.fromEntries(new URLSearchParams(init.body)) });
    return { ok: answer.ok ?? true, status: answer.status ?? 200, json: async () => answer.body };
  };
  return { fetch, seen };
}

test("the code is exchanged with the verifier (a public client: no secret)", async () => {
  const s = providerSettings(COGNITO, "https://chat.example.com/");
  const { fetch, seen } = tokenEndpoint({ body: { id_token: "ID", access_token: "AT", refresh_token: "RT" } });
  const got = await exchangeCode({ fetch, settings: s, code: "the-code", verifier: "the-verifier" });
  assert.deepEqual(got, { token: "ID", refreshToken: "RT" });
  assert.equal(seen[0].url, s.tokenEndpoint);
  assert.equal(seen[0].init.method, "POST");
  assert.equal(seen[0].init.headers["Content-Type"], "application/x-www-form-urlencoded");
  assert.deepEqual(seen[0].body, {
    client_id: "abc123",
    grant_type: "authorization_code",
    code: "the-code",
    redirect_uri: "https://chat.example.com/",
    code_verifier: "the-verifier",
  });
});

test("refresh keeps the refresh token when the provider does not rotate it; errors surface", async () => {
  const s = providerSettings(COGNITO, "https://chat.example.com/");
  const ok = tokenEndpoint({ body: { id_token: "ID2" } });
  assert.deepEqual(await refreshTokens({ fetch: ok.fetch, settings: s, refreshToken: "RT" }), {
    token: "ID2",
    refreshToken: "RT",
  });
  assert.equal(ok.seen[0].body.grant_type, "refresh_token");
  assert.equal(ok.seen[0].body.refresh_token, "RT");
  const bad = tokenEndpoint({ ok: false, status: 400, body: { error: "invalid_grant" } });
  await assert.rejects(refreshTokens({ fetch: bad.fetch, settings: s, refreshToken: "RT" }), /invalid_grant/);
});

test("the redirect back: code and state, or the provider's error", () => {
  assert.deepEqual(callbackParams("https://c/?code=abc&state=xyz#lobby"), { code: "abc", state: "xyz" });
  assert.deepEqual(callbackParams("https://c/?error=access_denied"), { error: "access_denied" });
  assert.equal(callbackParams("https://c/#lobby"), null);
  assert.equal(callbackParams("https://c/?code=abc"), null, "no state: not ours");
});

// ---- the local issuer ------------------------------------------------------------------------------

test("dev sign-in posts the name to the local issuer", async () => {
  const seen = [];
  const fetch = async (url, init) => {
    seen.push([url, JSON.parse(init.body)]);
    return { ok: true, status: 200, json: async () => ({ token: "T" }) };
  };
  assert.equal(await devSignIn({ fetch, tokenUrl: "/idp/token", name: "alice" }), "T");
  assert.deepEqual(seen, [["/idp/token", { name: "alice" }]]);
  const refuse = async () => ({ ok: false, status: 400, json: async () => ({ message: "name must be 1..32" }) });
  await assert.rejects(devSignIn({ fetch: refuse, tokenUrl: "/idp/token", name: "" }), /name must be/);
});

// ---- token expiry --------------------------------------------------------------------------------

test("expiry, freshness and the display name are read from the token", () => {
  const now = 1_700_000_000_000;
  const token = jwt({ exp: now / 1000 + 3600, name: "Zoë", sub: "u-1" });
  assert.equal(expiresAt(token), now + 3600_000);
  assert.equal(isFresh(token, now), true);
  assert.equal(isFresh(token, now + 3600_000), false);
  assert.equal(expiresAt("garbage"), null);
  assert.equal(displayName(token), "Zoë");
  assert.equal(displayName(jwt({ "cognito:username": "bob", sub: "u" })), "bob");
  assert.equal(displayName(jwt({ nick: "n", sub: "u" }), "nick"), "n");
  assert.equal(displayName(jwt({ sub: "u-2" })), "u-2");
});

test("refresh is scheduled a margin before expiry, never in the past or immediately", () => {
  const now = 1_000_000;
  assert.equal(refreshDelay(now + 3600_000, now), 3600_000 - REFRESH.marginMs);
  // A short-lived token refreshes at 80% of its life, not after it expired.
  assert.equal(refreshDelay(now + 100_000, now), 80_000);
  assert.equal(refreshDelay(now - 1000, now), REFRESH.minDelayMs, "already expired: soon, not in a loop");
  assert.equal(refreshDelay(null, now), null);
});

test("the scheduler refreshes before expiry, then again for the new token, and retries failures", async () => {
  const timers = new FakeTimers();
  const tokens = [];
  let fail = false;
  const scheduler = new TokenScheduler({
    timers,
    now: timers.clock,
    refresh: async () => {
      if (fail) throw new Error("offline");
      const token = jwt({ exp: (timers.now + 3600_000) / 1000 });
      tokens.push(token);
      scheduler.schedule(token); // what the page does with a new token
      return token;
    },
  });
  scheduler.schedule(jwt({ exp: (timers.now + 3600_000) / 1000 }));
  assert.equal(scheduler.dueAt, timers.now + 3600_000 - REFRESH.marginMs);
  timers.advance(3600_000 - REFRESH.marginMs - 1);
  assert.equal(tokens.length, 0);
  timers.advance(1);
  await Promise.resolve();
  assert.equal(tokens.length, 1, "refreshed a minute before expiry");
  assert.equal(timers.pending, 1, "one timer at a time");
  fail = true;
  timers.advance(3600_000 - REFRESH.marginMs);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(tokens.length, 1);
  assert.equal(scheduler.dueAt, timers.now + REFRESH.retryMs, "a failed refresh is retried");
  fail = false;
  timers.advance(REFRESH.retryMs);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(tokens.length, 2);
  scheduler.cancel();
  assert.equal(timers.pending, 0);
});
