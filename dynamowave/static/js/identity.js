// Who the page connects as: a name (auth off), a token from the local runtime's issuer (--auth
// dev), or a token from an OIDC provider (Cognito's hosted UI or another issuer: authorization
// code + PKCE). Keeps a fresh token for the next (re)connect: refreshed before it expires, and
// after a refused $connect. Browser objects are injected (main.js passes the real ones).
import {
  authorizeUrl,
  callbackParams,
  devSignIn,
  displayName,
  exchangeCode,
  isFresh,
  pkcePair,
  providerSettings,
  refreshTokens,
  TokenScheduler,
} from "./auth.js";
import { realTimers } from "./connection.js";

// Provider tokens live for the tab's session only; the PKCE verifier and state for one redirect.
const SESSION_KEY = "dynamowave.session";
const PKCE_KEY = "dynamowave.pkce";
const REFUSED_REFRESH_MS = 5_000; // a refused $connect asks for a new token at most this often

function readJson(session, key) {
  try {
    const value = JSON.parse(session.get(key) || "{}");
    return value && typeof value === "object" ? value : {};
  } catch {
    return {}; // written by an older page, or edited by hand: start over
  }
}

export function createIdentity({ chat, view, fetch, session, location, history, newId, timers = realTimers }) {
  const scheduler = new TokenScheduler({ refresh: () => active.refresh(), timers });
  let lastRefusedRefresh = 0;

  /** A new token for the next (re)connect; the open socket keeps working (checked at $connect only). */
  function useToken(token, name) {
    scheduler.schedule(token);
    if (name !== chat.name || !chat.online) chat.setIdentity(name, token);
    else chat.token = token;
  }

  const devIdentity = {
    async signIn(name) {
      const token = await devSignIn({ fetch, tokenUrl: chat.config.idp.tokenUrl, name });
      useToken(token, displayName(token) || name);
      return token;
    },
    refresh() {
      return chat.name ? this.signIn(chat.name) : null;
    },
  };

  const providerIdentity = {
    settings: null,
    refreshToken: "",
    save(token, refreshToken) {
      this.refreshToken = refreshToken || "";
      session.set(SESSION_KEY, JSON.stringify({ token, refreshToken: this.refreshToken }));
    },
    use(token) {
      const name = displayName(token, this.settings.nameClaim);
      view.account(name);
      useToken(token, name);
      return token;
    },
    async signIn() {
      const { verifier, challenge } = await pkcePair();
      const state = newId();
      session.set(PKCE_KEY, JSON.stringify({ verifier, state }));
      location.assign(authorizeUrl(this.settings, { challenge, state }));
    },
    async refresh() {
      if (!this.refreshToken) return null;
      const fetched = await refreshTokens({
        fetch,
        settings: this.settings,
        refreshToken: this.refreshToken,
      });
      this.save(fetched.token, fetched.refreshToken);
      return this.use(fetched.token);
    },
    async start() {
      const back = callbackParams(location.href);
      if (back) {
        history.replaceState(null, "", location.pathname + location.hash); // the code is single-use
        const pending = readJson(session, PKCE_KEY);
        session.set(PKCE_KEY, "");
        if (back.error) view.notice(`Sign-in failed: ${back.error}`);
        else if (!pending.state || pending.state !== back.state) {
          view.notice("Sign-in failed: the answer was not for this page.");
        } else {
          const got = await exchangeCode({
            fetch,
            settings: this.settings,
            code: back.code,
            verifier: pending.verifier,
          });
          this.save(got.token, got.refreshToken);
          return this.use(got.token);
        }
      }
      const saved = readJson(session, SESSION_KEY);
      this.refreshToken = saved.refreshToken || "";
      if (saved.token && isFresh(saved.token, Date.now())) return this.use(saved.token);
      if (this.refreshToken) return this.refresh();
      return null;
    },
  };

  let active = devIdentity;

  function refreshAfterRefusal() {
    // A refused $connect: the runtime restarted with a new key, or the token expired while the
    // laptop slept. Get a new one (bounded: the server may refuse for another reason).
    if (chat.config.auth === "off" || Date.now() - lastRefusedRefresh < REFUSED_REFRESH_MS) return;
    lastRefusedRefresh = Date.now();
    Promise.resolve(active.refresh()).catch(() => {});
  }

  return {
    dev: devIdentity,
    provider: providerIdentity,
    refreshAfterRefusal,
    signOut() {
      session.set(SESSION_KEY, "");
      scheduler.cancel();
      location.assign(location.pathname);
    },
    async startWithProvider(config) {
      active = providerIdentity;
      providerIdentity.settings = providerSettings(config, location.href);
      if (!providerIdentity.settings) {
        view.status("offline", "Sign-in is not configured (config.json has no oidc client)");
        return;
      }
      let token = null;
      try {
        token = await providerIdentity.start();
      } catch (err) {
        view.notice(`Sign-in failed: ${err.message}`);
      }
      if (!token) {
        view.account("");
        view.status("idle", "Sign in to start");
      }
    },
  };
}
