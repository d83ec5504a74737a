// Runtime configuration from the server (/config.json), and where to open the socket.
import { CATCHUP_MARGIN_MS } from "./catchup.js";

// The page renders the room named in the URL hash before /config.json has answered (and keeps
// retrying while the server is down), so it needs limits before the server's: these mirror
// functions/chat/protocol.py and are replaced by the server's own as soon as config loads.
export const DEFAULT_LIMITS = Object.freeze({
  maxTextChars: 4000,
  maxFrameBytes: 32768,
  maxNameChars: 32,
  historyDefaultLimit: 50,
  historyMaxLimit: 100,
  defaultRoom: "lobby",
  roomPattern: "[A-Za-z0-9_-]{1,64}",
});

const CONFIG_RETRY = { firstMs: 1000, capMs: 30_000, jitterMs: 500 };
// off: names are not authenticated; dev: the local runtime's issuer; cognito/oidc: a provider's
// sign-in page (authorization code + PKCE), configured by the `oidc` object of the config.
export const AUTH_MODES = Object.freeze(["off", "dev", "cognito", "oidc"]);

/** The server's config with every limit present (an older server may send fewer or none). */
export function normalizeConfig(raw) {
  const cfg = raw && typeof raw === "object" ? raw : {};
  const limits = { ...DEFAULT_LIMITS };
  for (const [key, fallback] of Object.entries(DEFAULT_LIMITS)) {
    const value = cfg.limits?.[key];
    if (typeof value === typeof fallback && (typeof value !== "number" || value > 0)) limits[key] = value;
  }
  return {
    ...cfg,
    websocketUrl: typeof cfg.websocketUrl === "string" ? cfg.websocketUrl : "",
    auth: AUTH_MODES.includes(cfg.auth) ? cfg.auth : "off",
    limits: Object.freeze(limits),
    // How far back a reconnect catches up: the server's redelivery window plus replication lag.
    catchUpMarginMs:
      Number.isInteger(cfg.catchUpMarginMs) && cfg.catchUpMarginMs >= 0 ? cfg.catchUpMarginMs : CATCHUP_MARGIN_MS,
  };
}

/**
 * The page's configuration always comes from its own origin (/config.json: the local runtime
 * serves it; a deployed page ships one next to index.html, see docs/auth.md). Never from URL
 * parameters: a link that could pick the WebSocket or token endpoint could make the page hand a
 * signed-in user's token to someone else's server.
 *
 * Fetch /config.json until it answers. A dead server is normal during `dynamowave dev`
 * restarts, so this never gives up; onRetry(delayMs) lets the page say so.
 */
export async function loadConfig({ fetch, sleep, random = Math.random, onRetry = () => {} }) {
  let delay = CONFIG_RETRY.firstMs;
  for (;;) {
    try {
      const res = await fetch("/config.json", { cache: "no-store" });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return normalizeConfig(await res.json());
    } catch {
      onRetry(delay);
      await sleep(delay + random() * CONFIG_RETRY.jitterMs);
      delay = Math.min(delay * 2, CONFIG_RETRY.capMs);
    }
  }
}

/** The $connect URL: identity and first room travel in the query string (with auth on, only the
 * token speaks for the user: the server ignores a name). */
export function socketUrl(config, pageHref, { name, room, token }) {
  const url = new URL(config.websocketUrl, pageHref);
  // A server bound to 0.0.0.0 advertises an address browsers cannot dial; use the page's host.
  if (url.hostname === "0.0.0.0") url.hostname = new URL(pageHref).hostname;
  if (config.auth === "off") url.searchParams.set("name", name);
  url.searchParams.set("room", room || config.limits.defaultRoom);
  if (config.auth !== "off" && token) url.searchParams.set("token", token);
  return url.toString();
}
