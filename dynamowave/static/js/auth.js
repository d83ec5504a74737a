// Signing in: the local runtime's issuer (--auth dev), or an OIDC provider (Cognito's hosted UI,
// or any issuer) with the authorization code flow and PKCE (RFC 7636, S256). Tokens are only read
// here (expiry, display name), never trusted: the $connect authorizer verifies them.
// fetch, crypto, timers and the clock are injected so all of it runs under node --test.

/** Refresh this long before a token expires, so a reconnect never presents an expired one. */
export const REFRESH = Object.freeze({ marginMs: 60_000, minDelayMs: 5_000, retryMs: 15_000 });

const VERIFIER_BYTES = 32; // 43 base64url characters, within RFC 7636's 43..128

export function base64url(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** S256: BASE64URL(SHA-256(ASCII(code_verifier))). */
export async function pkceChallenge(verifier, crypto = globalThis.crypto) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** A fresh code verifier (unreserved characters only) and its S256 challenge. */
export async function pkcePair(crypto = globalThis.crypto) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(VERIFIER_BYTES)));
  return { verifier, challenge: await pkceChallenge(verifier, crypto) };
}

/** The claims of a JWT, unverified (for its expiry and display name only); null if unreadable. */
export function readClaims(token) {
  try {
    const part = String(token).split(".")[1];
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}

/** When the token expires, in epoch ms (null: no readable exp). */
export function expiresAt(token) {
  const exp = readClaims(token)?.exp;
  return Number.isFinite(exp) ? exp * 1000 : null;
}

/** How long to wait before refreshing: a margin before expiry, never sooner than minDelayMs. */
export function refreshDelay(expMs, nowMs, opts = REFRESH) {
  if (expMs === null) return null;
  // A short-lived token refreshes at 80% of its remaining life rather than after it expired.
  const remaining = expMs - nowMs;
  const margin = Math.min(opts.marginMs, remaining * 0.2);
  return Math.max(opts.minDelayMs, Math.floor(remaining - margin));
}

/** A token is usable if it does not expire within the margin. */
export function isFresh(token, nowMs, opts = REFRESH) {
  const exp = expiresAt(token);
  return exp !== null && exp - nowMs > Math.min(opts.marginMs, 5_000);
}

/** The display name a token carries: the configured claim, then common ones, then sub. */
export function displayName(token, claim = "name") {
  const claims = readClaims(token) || {};
  for (const key of [claim, "name", "preferred_username", "cognito:username", "email", "sub"]) {
    if (typeof claims[key] === "string" && claims[key].trim()) return claims[key].trim();
  }
  return "";
}

/**
 * Calls refresh() before the current token expires, again after each new token, and retries a
 * failed refresh after retryMs. One timer at a time; cancel() stops it.
 */
export class TokenScheduler {
  #timer = null;

  constructor({ refresh, timers, now = Date.now, opts = REFRESH }) {
    this.refresh = refresh;
    this.timers = timers;
    this.now = now;
    this.opts = opts;
    this.dueAt = null;
  }

  schedule(token) {
    this.cancel();
    const delay = refreshDelay(expiresAt(token), this.now(), this.opts);
    if (delay === null) return;
    this.dueAt = this.now() + delay;
    this.#timer = this.timers.setTimeout(() => this.#fire(), delay);
  }

  async #fire() {
    this.#timer = null;
    this.dueAt = null;
    let token = null;
    try {
      token = await this.refresh();
    } catch {
      token = null;
    }
    if (token) this.schedule(token);
    else {
      this.dueAt = this.now() + this.opts.retryMs;
      this.#timer = this.timers.setTimeout(() => this.#fire(), this.opts.retryMs);
    }
  }

  cancel() {
    if (this.#timer !== null) this.timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.dueAt = null;
  }
}

// ---- the local runtime's issuer (--auth dev) ---------------------------------------------------

/** A token for ``name`` from the local issuer (POST /idp/token). */
export async function devSignIn({ fetch, tokenUrl, name }) {
  const res = await fetch(tokenUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name }),
    cache: "no-store",
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || typeof body.token !== "string") throw new Error(body.message || `sign-in failed (HTTP ${res.status})`);
  return body.token;
}

// ---- OIDC: authorization code + PKCE -----------------------------------------------------------

/**
 * The provider's endpoints from the page config: Cognito's hosted UI from its domain, or an
 * issuer's authorization and token endpoints given explicitly. null: not configured.
 */
export function providerSettings(config, pageHref) {
  const oidc = config?.oidc;
  if (!oidc || typeof oidc.clientId !== "string" || !oidc.clientId) return null;
  const page = new URL(pageHref);
  const redirectUri = typeof oidc.redirectUri === "string" ? oidc.redirectUri : `${page.origin}${page.pathname}`;
  let authorizationEndpoint = oidc.authorizationEndpoint;
  let tokenEndpoint = oidc.tokenEndpoint;
  if (typeof oidc.cognitoDomain === "string" && oidc.cognitoDomain) {
    const base = oidc.cognitoDomain.startsWith("https://") ? oidc.cognitoDomain : `https://${oidc.cognitoDomain}`;
    authorizationEndpoint = `${base.replace(/\/$/, "")}/oauth2/authorize`;
    tokenEndpoint = `${base.replace(/\/$/, "")}/oauth2/token`;
  }
  if (typeof authorizationEndpoint !== "string" || typeof tokenEndpoint !== "string") return null;
  return {
    clientId: oidc.clientId,
    authorizationEndpoint,
    tokenEndpoint,
    redirectUri,
    scope: typeof oidc.scope === "string" && oidc.scope ? oidc.scope : "openid profile email",
    // Which token $connect presents: the ID token (aud = client id, carries the name) by default.
    tokenKind: oidc.tokenKind === "access" ? "access_token" : "id_token",
    nameClaim: typeof oidc.nameClaim === "string" && oidc.nameClaim ? oidc.nameClaim : "name",
  };
}

/** Where to send the browser to sign in. */
export function authorizeUrl(settings, { challenge, state }) {
  const url = new URL(settings.authorizationEndpoint);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", settings.clientId);
  url.searchParams.set("redirect_uri", settings.redirectUri);
  url.searchParams.set("scope", settings.scope);
  url.searchParams.set("state", state);
  url.searchParams.set("code_challenge", challenge);
  url.searchParams.set("code_challenge_method", "S256");
  return url.toString();
}

async function tokenRequest(fetch, settings, params) {
  const res = await fetch(settings.tokenEndpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: settings.clientId, ...params }).toString(),
    cache: "no-store",
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error_description || body.error || `token endpoint answered HTTP ${res.status}`);
  const token = body[settings.tokenKind];
  if (typeof token !== "string") throw new Error(`the token endpoint returned no ${settings.tokenKind}`);
  return { token, refreshToken: typeof body.refresh_token === "string" ? body.refresh_token : null };
}

/** The redirect back: the code for tokens (public client: the verifier proves it is us). */
export function exchangeCode({ fetch, settings, code, verifier }) {
  return tokenRequest(fetch, settings, {
    grant_type: "authorization_code",
    code,
    redirect_uri: settings.redirectUri,
    code_verifier: verifier,
  });
}

/** A fresh token before the current one expires (Cognito: the refresh token keeps its value). */
export async function refreshTokens({ fetch, settings, refreshToken }) {
  const result = await tokenRequest(fetch, settings, { grant_type: "refresh_token", refresh_token: refreshToken });
  return { token: result.token, refreshToken: result.refreshToken || refreshToken };
}

/** The code and state from a redirect back to the page, or null (also when the provider refused). */
export function callbackParams(pageHref) {
  const params = new URL(pageHref).searchParams;
  if (params.has("error")) return { error: params.get("error_description") || params.get("error") };
  const code = params.get("code");
  const state = params.get("state");
  return code && state ? { code, state } : null;
}
