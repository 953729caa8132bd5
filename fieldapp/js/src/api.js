// HTTP to the server: bearer token, one refresh on an expired access token, errors as {status, code, message}.
import { getMeta, setMeta } from "./db.js";

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.code) || (status === 0 ? "network" : `http_${status}`);
    this.body = body || {};
    this.retryAfter = retryAfter;
  }
}

export const STOP_CODES = new Set(["device_revoked", "user_inactive"]);
const REFRESHABLE = new Set(["token_invalid", "not_authenticated", "authentication_failed", "token_not_valid"]);

export async function session() {
  return getMeta("session");
}

async function raw(method, path, { body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (exc) {
    throw new ApiError(0, { code: "network", message: String(exc) });
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { code: `http_${response.status}`, message: text.slice(0, 200) };
    }
  }
  if (!response.ok) {
    const retry = Number(response.headers.get("Retry-After")) || null;
    throw new ApiError(response.status, data, retry);
  }
  return data;
}

let refreshing = null;

async function refresh(s) {
  // One refresh at a time: each refresh token works once, so two at once would look like theft.
  if (!refreshing) {
    refreshing = (async () => {
      const pair = await raw("POST", "/api/v1/auth/refresh", { body: { refresh: s.refresh } });
      const next = { ...s, access: pair.access, refresh: pair.refresh, access_expires_at: pair.access_expires_at };
      await setMeta("session", next); // stored before it is used
      return next;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** An authenticated call. Refreshes once when the access token has expired. */
export async function call(method, path, body) {
  let s = await session();
  if (!s) throw new ApiError(401, { code: "not_signed_in", message: "Not signed in." });
  if (s.access_expires_at && Date.parse(s.access_expires_at) - Date.now() < 30_000) {
    s = await refresh(s);
  }
  try {
    return await raw(method, path, { body, token: s.access });
  } catch (exc) {
    if (exc.status === 401 && REFRESHABLE.has(exc.code)) {
      s = await refresh(s);
      return raw(method, path, { body, token: s.access });
    }
    throw exc;
  }
}

export function login(body) {
  return raw("POST", "/api/v1/auth/login", { body });
}

export function publicGet(path) {
  return raw("GET", path);
}
