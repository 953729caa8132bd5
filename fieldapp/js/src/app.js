// The field app: sign in, MACRO shifts and engagements, DVP incidents and follow-ups, all offline first.
import { ApiError, call, login, publicGet } from "./api.js";
import { db, deviceIdFor, getMeta, keyOf, setMeta, uuid, wipeOwner } from "./db.js";
import { h } from "./dom.js";
import {
  changedFields, choiceLabel, clean, describeValue, fieldOf, formOf, formatTime, renderFields, validate,
} from "./forms.js";
import { LANGUAGES, language, setLanguage, t } from "./i18n.js";
import { APP_VERSION, counts, onChange, queueReplay, requestSync, saveEdit, state, sync } from "./sync.js";

const S = { session: null, me: null, forms: null, flash: null, live: false };
const root = () => document.getElementById("app");
const DISPATCHED = ["911_dispatch", "non_emergency_line", "police_transfer"];
const UNIT_STATUSES = ["en_route", "on_scene", "available", "transporting", "out_of_service"];

// ---------------------------------------------------------------- records

async function records(type) {
  const rows = await db.records.where("owner").equals(S.session.username).filter((r) => r.type === type).toArray();
  return rows.filter((r) => !r.data.deleted);
}

async function record(type, id) {
  return db.records.get(keyOf(type, id));
}

function membership() {
  return (S.me?.memberships || [])[0] || null;
}

function program() {
  return membership()?.program || "MACRO";
}

function role() {
  return membership()?.role || "";
}

function teamId() {
  return membership()?.team?.id || S.me?.teams?.[0]?.id || null;
}

function form(type) {
  return formOf(S.forms, type);
}

function allowedFields(type, names) {
  const f = form(type);
  return names.filter((n) => {
    const ff = fieldOf(f, n);
    return ff && !(ff.restricted_to && !ff.restricted_to.includes(role()));
  });
}

function personNames(data) {
  return (data.persons || []).map((p) => p.alias || p.initials).filter(Boolean).join(", ");
}

function summary(type, data) {
  const f = form(type);
  if (type === "engagement") {
    const who = personNames(data);
    return [choiceLabel(fieldOf(f, "origin"), data.origin), data.cad_number, formatTime(data.on_scene_at || data.server_received_at), who]
      .filter(Boolean).join(" · ");
  }
  if (type === "shift") return `${data.call_sign || ""} · ${formatTime(data.started_at)}`;
  if (type === "incident") return `${data.dvp_number || ""} · ${choiceLabel(fieldOf(f, "kind"), data.kind)} · ${formatTime(data.occurred_at)}`;
  if (type === "follow_up_case") return personNames(data) || `#${String(data.id).slice(0, 8)}`;
  if (type === "scene_response") return `${formatTime(data.arrived_at)} · ${choiceLabel(fieldOf(f, "risk_level"), data.risk_level) || ""}`;
  if (type === "contact_attempt") return `${formatTime(data.attempted_at)} · ${choiceLabel(fieldOf(f, "outcome"), data.outcome) || ""}`;
  return data.id;
}

function sortBy(rows, fn, desc = false) {
  return rows.sort((a, b) => (fn(a) < fn(b) ? -1 : fn(a) > fn(b) ? 1 : 0) * (desc ? -1 : 1));
}

async function myShifts() {
  const meId = S.me.id;
  const rows = await records("shift");
  return sortBy(rows.filter((r) => !r.data.created_by || r.data.created_by === meId || (r.data.crew || []).includes(meId)),
    (r) => r.data.started_at || "", true);
}

async function currentShift() {
  const rows = await myShifts();
  return rows.find((r) => !r.data.ended_at && ["open", "returned", undefined].includes(r.data.review_status)) || null;
}

function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function nowIso() {
  return new Date().toISOString();
}

// ---------------------------------------------------------------- layout

function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
  // Returns nothing on purpose: a screen that calls go() must not wait for the render it queues.
}

async function syncBar() {
  const c = await counts(S.session.username);
  const bits = [];
  bits.push(h("span", { class: `dot ${navigator.onLine ? "on" : "off"}` }, navigator.onLine ? t("online") : t("offline")));
  if (state.syncing) bits.push(h("span", {}, t("syncing")));
  bits.push(h("span", { dataset: { testid: "pending" } },
    c.outbox ? `${c.outbox} ${c.outbox === 1 ? t("pendingOne") : t("pending")}` : t("allSynced")));
  if (c.rejected) bits.push(h("a", { href: "#/sync", class: "bad" }, `${c.rejected} ${t("rejectedCount")}`));
  bits.push(h("span", {}, `${t("lastSynced")}: ${c.lastSync ? formatTime(c.lastSync) : t("never")}`));
  let alert = null;
  if (state.stopped) {
    alert = { device_revoked: t("revoked"), user_inactive: t("inactive"), upgrade_required: t("upgrade") }[state.stopped] || state.stopped;
  } else if (state.error === "busy") alert = t("busy", { s: state.retrySeconds });
  else if (state.error === "networkError") alert = t("networkError");
  else if (state.error && state.error !== "offline") alert = state.error;
  return h("section", { class: "syncbar", "aria-label": t("syncState") },
    h("p", { class: "status", role: "status" }, bits),
    alert ? h("p", { class: "alert", role: "alert" }, alert) : null,
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", disabled: state.syncing || !!state.stopped || !navigator.onLine,
        onclick: () => sync() }, t("sync")),
      h("a", { href: "#/sync", class: "button secondary" }, t("syncState"))));
}

async function layout(title, ...content) {
  const header = h("header", {},
    h("a", { href: "#/", class: "brand" }, t("appName")),
    h("span", { class: "who" }, S.session.username),
    h("button", { type: "button", class: "link", onclick: signOutFlow }, t("signOut")));
  // A message stays for a few seconds, across the re-renders that syncing causes.
  if (S.flash) {
    S.shown = { text: S.flash, bad: !!S.flashBad, until: Date.now() + 8000 };
    S.flash = null;
    S.flashBad = false;
  }
  const shown = S.shown && S.shown.until > Date.now() ? S.shown : null;
  const flash = shown ? h("p", shown.bad ? { class: "alert", role: "alert" } : { class: "flash", role: "status" }, shown.text) : null;
  if (S.refreshing) {
    S.refreshing = false;
    // A refresh that syncing asked for is dropped if the person touched the screen while it was built.
    if (S.dirty) return refreshBar();
  }
  const main = h("main", { id: "main", tabindex: "-1" }, flash, h("h1", {}, title), content);
  root().replaceChildren(h("a", { class: "skip", href: "#main" }, "Skip to content"), header, await syncBar(), main);
}

async function refreshBar() {
  const old = root().querySelector(".syncbar");
  if (old && S.session) old.replaceWith(await syncBar());
}

// ---------------------------------------------------------------- sign in / out

async function signInScreen(message) {
  const lastUser = await getMeta("lastUser", "");
  const err = h("p", { class: "error", role: "alert" }, message || "");
  const user = h("input", { id: "username", name: "username", autocomplete: "username", value: lastUser, required: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const lang = h("select", { id: "lang", onchange: (e) => { setLanguage(e.target.value); setMeta("lang", e.target.value); signInScreen(); } },
    LANGUAGES.map(([v, l]) => h("option", { value: v }, l)));
  lang.value = language();
  const button = h("button", { type: "submit", class: "primary big" }, t("signIn"));
  const formEl = h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    if (!navigator.onLine) {
      err.textContent = t("signInOffline");
      return;
    }
    button.disabled = true;
    button.textContent = t("signingIn");
    try {
      await signIn(user.value.trim(), pass.value);
    } catch (exc) {
      err.textContent = exc instanceof ApiError && exc.status !== 0 ? exc.message : t("networkError");
      button.disabled = false;
      button.textContent = t("signIn");
    }
  } },
  h("label", { for: "username" }, t("username")), user,
  h("label", { for: "password" }, t("password")), pass,
  h("label", { for: "lang" }, t("language")), lang,
  button, err);
  root().replaceChildren(h("main", { id: "main", class: "signin" }, h("h1", {}, t("appName")), formEl));
}

async function loadForms() {
  try {
    const forms = await publicGet(`/api/v1/forms?lang=${language()}`);
    await setMeta("forms", forms);
    S.forms = forms;
  } catch {
    S.forms = (await getMeta("forms")) || S.forms;
  }
}

async function signIn(username, password) {
  state.sessionEnded = false; // before any await: a sync event meanwhile must not send us back to sign-in
  const deviceId = await deviceIdFor(username);
  const pair = await login({
    username, password, device_id: deviceId, device_name: t("deviceName"), platform: "web", app_version: APP_VERSION,
  });
  S.session = { username, device_id: deviceId, access: pair.access, refresh: pair.refresh,
    access_expires_at: pair.access_expires_at, session_expires_at: pair.session_expires_at };
  await setMeta("session", S.session);
  await setMeta("lastUser", username);
  S.me = await call("GET", "/api/v1/me");
  await setMeta(`me:${username}`, S.me);
  await loadForms();
  state.sessionEnded = false;
  state.stopped = null;
  await setMeta(`stopped:${username}`, null);
  location.hash = "#/";
  await render();
  sync();
}

async function signOutFlow() {
  S.live = false;
  S.dirty = true;
  const c = await counts(S.session.username);
  const unsent = c.outbox + c.rejected;
  if (unsent && navigator.onLine) {
    await sync();
  }
  const left = (await counts(S.session.username));
  const n = left.outbox + left.rejected;
  if (!n) return signOut();
  const warn = () => {
    S.live = false;
    S.dirty = true; // stays until the person answers
    return layout(t("signOut"),
      h("p", { class: "alert", role: "alert" }, t("signOutWarn", { n })),
      h("div", { class: "row" },
        h("button", { type: "button", class: "danger", onclick: signOut }, t("signOutConfirm")),
        h("button", { type: "button", class: "primary", onclick: () => render() }, t("keepSignedIn"))));
  };
  rendering = rendering.then(warn, warn); // after any render already under way
  return rendering;
}

async function signOut() {
  const owner = S.session.username;
  try {
    if (navigator.onLine) await call("POST", "/api/v1/auth/logout");
  } catch {
    // The session may already have ended; local data goes either way.
  }
  await wipeOwner(owner);
  await setMeta("session", null);
  S.session = null;
  S.me = null;
  await signInScreen();
}

// ---------------------------------------------------------------- notices

function noticeText(n, rec) {
  const f = form(n.type);
  const what = `${f?.label || n.type}${rec ? ` (${summary(n.type, rec.data)})` : ""}: `;
  if (n.kind === "merged") return what + t("merged", { fields: n.fields.map((x) => fieldOf(f, x)?.label || x).join(", ") });
  if (n.kind === "conflict") {
    const ff = fieldOf(f, n.field);
    const kept = rec ? rec.data[n.field] : undefined;
    return what + t("conflict", { field: ff?.label || n.field, kept: describeValue(ff, kept), yours: describeValue(ff, n.yours) });
  }
  if (n.kind === "amendment") return what + t("amendment");
  if (n.kind === "unknown") return what + t("unknownStatus", { status: n.status });
  return what;
}

async function noticesSection(filterKey = null, limit = 5) {
  let rows = await db.notices.where("owner").equals(S.session.username).toArray();
  if (filterKey) rows = rows.filter((n) => n.key === filterKey);
  rows = rows.slice(-limit).reverse();
  if (!rows.length) return null;
  const items = [];
  for (const n of rows) items.push(h("li", { class: `notice ${n.kind}` }, noticeText(n, await db.records.get(n.key))));
  return h("section", { class: "notices", "aria-labelledby": "notices-h" },
    h("h2", { id: "notices-h" }, t("noticesTitle")), h("ul", {}, items));
}

// ---------------------------------------------------------------- MACRO

async function macroHome() {
  S.live = true;
  const shift = await currentShift();
  const returned = (await myShifts()).filter((r) => r.data.review_status === "returned");
  const banners = returned.map((r) => h("p", { class: "alert", role: "alert" },
    h("a", { href: `#/shift/${r.id}` }, `${t("returnedTitle")}: ${r.data.call_sign} — “${r.data.review_comment}”`)));
  if (!shift) return layout(t("startShift"), banners, await noticesSection(), startShiftForm(), await pastShifts());
  const f = form("shift");
  const timeline = shift.data.status_timeline || [];
  const statusNow = timeline.length ? timeline[timeline.length - 1].status : null;
  const statusChoices = fieldOf(f, "status_timeline").members.status.choices;
  const statusButtons = h("div", { class: "chips", role: "group", "aria-label": t("status") },
    UNIT_STATUSES.map((code) => h("button", { type: "button", class: "chip", "aria-pressed": statusNow === code ? "true" : "false",
      onclick: () => addStatus(shift, code) }, choiceLabel({ choices: statusChoices }, code))));
  const engagements = sortBy((await records("engagement")).filter((r) => r.data.shift === shift.id),
    (r) => r.data.on_scene_at || r.createdAt || "", true);
  return layout(`${t("currentShift")}: ${shift.data.call_sign}`,
    banners,
    await noticesSection(),
    h("div", { class: "bigactions" },
      h("a", { href: "#/engagement/new?origin=on_view", class: "button primary huge" }, t("logOnView")),
      h("a", { href: "#/engagement/new?origin=911_dispatch", class: "button secondary huge" }, t("logDispatched"))),
    h("section", { "aria-labelledby": "st-h" }, h("h2", { id: "st-h" }, t("status")), statusButtons),
    offerForm(shift),
    h("section", { "aria-labelledby": "en-h" }, h("h2", { id: "en-h" }, `${t("engagements")} (${engagements.length})`),
      engagementList(engagements)),
    h("p", {}, h("a", { href: `#/shift/${shift.id}`, class: "button secondary" }, t("shiftLog"))));
}

function engagementList(rows) {
  if (!rows.length) return h("p", {}, t("noEngagements"));
  return h("ul", { class: "cards" }, rows.map((r) => h("li", {},
    h("a", { href: `#/engagement/${r.id}` }, summary("engagement", r.data)),
    r.pending ? h("span", { class: "badge" }, t("pendingOne")) : null,
    r.rejected ? h("span", { class: "badge bad" }, t("rejectedTitle")) : null)));
}

async function pastShifts() {
  const rows = (await myShifts()).slice(0, 10);
  if (!rows.length) return null;
  return h("section", { "aria-labelledby": "ps-h" }, h("h2", { id: "ps-h" }, t("shiftLog")),
    h("ul", { class: "cards" }, rows.map((r) => h("li", {}, h("a", { href: `#/shift/${r.id}` }, summary("shift", r.data)),
      " ", h("span", { class: "badge" }, reviewLabel(r.data.review_status))))));
}

function reviewLabel(status) {
  return { approved: t("approved"), submitted: t("submittedState"), returned: t("returnedState") }[status] || t("openState");
}

function startShiftForm() {
  const team = membership()?.team;
  const van = h("input", { id: "call_sign", value: team?.code || "", required: true, maxlength: 40 });
  const partner = h("select", { id: "partner" }, h("option", { value: "" }, t("noPartner")),
    (S.me.teammates || []).map((m) => h("option", { value: m.id }, [m.first_name, m.last_name].filter(Boolean).join(" ") || m.username)));
  const err = h("p", { class: "error", role: "alert" });
  return h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    if (!van.value.trim()) {
      err.textContent = `${t("van")}: ${t("required")}`;
      van.focus();
      return;
    }
    const id = uuid();
    const crew = [S.me.id];
    if (partner.value) crew.push(Number(partner.value));
    await saveEdit(S.session.username, "shift", id, {
      call_sign: van.value.trim(), started_at: nowIso(), crew, status_timeline: [{ status: "available", at: nowIso() }],
      calls_offered: [],
    }, { create: true, team: teamId() });
    go("#/");
  } },
  h("label", { for: "call_sign" }, t("van")), van,
  h("label", { for: "partner" }, t("partner")), partner,
  h("button", { type: "submit", class: "primary big" }, t("startShift")), err);
}

async function addStatus(shift, code) {
  const fresh = await record("shift", shift.id);
  const timeline = [...(fresh.data.status_timeline || []), { status: code, at: nowIso() }];
  await saveEdit(S.session.username, "shift", shift.id, { status_timeline: timeline });
  render();
}

function offerForm(shift) {
  const cad = h("input", { id: "offer_cad", maxlength: 40 });
  const type = h("input", { id: "offer_type", maxlength: 60 });
  const reason = h("input", { id: "offer_reason", maxlength: 200 });
  const reasonWrap = h("div", { class: "stack", hidden: true }, h("label", { for: "offer_reason" }, t("declineReason")), reason);
  const err = h("p", { class: "error", role: "alert" });
  const decide = async (decision) => {
    if (!cad.value.trim()) {
      err.textContent = `CAD: ${t("required")}`;
      cad.focus();
      return;
    }
    if (decision === "declined" && !reason.value.trim()) {
      reasonWrap.hidden = false;
      err.textContent = fieldOf(form("shift"), "calls_offered") && form("shift").rules.find((r) => r.code === "decline_reason_required")?.message;
      reason.focus();
      return;
    }
    const fresh = await record("shift", shift.id);
    const offer = { cad_number: cad.value.trim(), offered_at: nowIso(), call_type: type.value.trim(), decision };
    if (decision === "declined") offer.decline_reason = reason.value.trim();
    await saveEdit(S.session.username, "shift", shift.id, { calls_offered: [...(fresh.data.calls_offered || []), offer] });
    if (decision === "accepted") go(`#/engagement/new?origin=911_dispatch&cad=${encodeURIComponent(offer.cad_number)}&call_type=${encodeURIComponent(offer.call_type)}`);
    else render();
  };
  const calls = (shift.data.calls_offered || []).slice().reverse();
  const decisionField = fieldOf(form("shift"), "calls_offered").members.decision;
  return h("section", { "aria-labelledby": "co-h" }, h("h2", { id: "co-h" }, t("callsOffered")),
    h("div", { class: "stack" },
      h("label", { for: "offer_cad" }, fieldOf(form("shift"), "calls_offered").members.cad_number.label), cad,
      h("label", { for: "offer_type" }, fieldOf(form("shift"), "calls_offered").members.call_type.label), type,
      reasonWrap,
      h("div", { class: "row" },
        h("button", { type: "button", class: "primary", onclick: () => decide("accepted") }, t("accept")),
        h("button", { type: "button", class: "secondary", onclick: () => decide("declined") }, t("decline"))),
      err),
    calls.length ? h("ul", { class: "cards" }, calls.map((c) => h("li", {},
      `${c.cad_number} · ${c.call_type || ""} · ${choiceLabel(decisionField, c.decision)}${c.decline_reason ? ` (${c.decline_reason})` : ""}`))) : null);
}

const ENGAGEMENT_QUICK = ["origin", "persons", "needs", "services", "supplies", "disposition", "referrals", "notes"];
const ENGAGEMENT_DISPATCH = ["cad_number", "call_type", "priority"];
const ENGAGEMENT_MORE = ["address", "cross_street", "beat", "eligible", "received_at", "dispatched_at", "en_route_at",
  "on_scene_at", "cleared_at", "next_follow_up_due"];

async function engagementScreen(id, params) {
  S.live = false;
  const f = form("engagement");
  const existing = id ? await record("engagement", id) : null;
  const shift = await currentShift();
  const values = existing ? JSON.parse(JSON.stringify(existing.data)) : {
    origin: params.get("origin") || "on_view", shift: shift ? shift.id : null,
    cad_number: params.get("cad") || "", call_type: params.get("call_type") || "",
  };
  const original = existing ? JSON.parse(JSON.stringify(existing.data)) : {};
  const draw = async (errors = {}) => {
    const dispatchBox = h("div", { class: "dispatch", hidden: !DISPATCHED.includes(values.origin) },
      renderFields(f, ENGAGEMENT_DISPATCH, values, errors));
    const onChangeQuick = (name, v) => {
      if (name === "origin") dispatchBox.hidden = !DISPATCHED.includes(v);
    };
    const more = h("details", { open: ENGAGEMENT_MORE.some((n) => errors[n]) },
      h("summary", {}, t("more")), renderFields(f, ENGAGEMENT_MORE, values, errors));
    const save = h("button", { type: "submit", class: "primary big" }, t("save"));
    const formEl = h("form", { class: "record", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      const cleaned = clean(f, values);
      const visible = new Set([...ENGAGEMENT_QUICK, ...ENGAGEMENT_MORE, ...(DISPATCHED.includes(cleaned.origin) ? ENGAGEMENT_DISPATCH : [])]);
      const errs = validate(f, cleaned, visible);
      if (Object.keys(errs).length) {
        Object.assign(values, cleaned);
        await draw(errs);
        return;
      }
      const names = [...visible, "shift"];
      if (existing) {
        const changed = changedFields(original, cleaned, names);
        if (Object.keys(changed).length) await saveEdit(S.session.username, "engagement", existing.id, changed);
      } else {
        if (!cleaned.on_scene_at && cleaned.origin === "on_view") cleaned.on_scene_at = nowIso();
        const fields = {};
        for (const n of names) if (cleaned[n] !== undefined && cleaned[n] !== null && cleaned[n] !== "") fields[n] = cleaned[n];
        await saveEdit(S.session.username, "engagement", uuid(), fields, { create: true, team: teamId() });
      }
      S.flash = t("saved");
      go("#/");
    } },
    Object.keys(errors).length ? h("p", { class: "alert", role: "alert" }, t("fixErrors")) : null,
    renderFields(f, ["origin"], values, errors, { onChange: onChangeQuick }),
    dispatchBox,
    renderFields(f, ENGAGEMENT_QUICK.slice(1), values, errors, { hiddenMembers: ["name"] }),
    more,
    h("div", { class: "savebar" }, save, h("a", { href: "#/", class: "button secondary" }, t("cancel"))));
    await layout(existing ? `${f.label}: ${summary("engagement", existing.data)}` : (values.origin === "on_view" ? t("logOnView") : t("logDispatched")),
      existing ? await noticesSection(existing.key) : null,
      existing ? await rejectedFor(existing.key) : null,
      formEl);
    const firstError = root().querySelector(".invalid input, .invalid button, .invalid select, .invalid textarea");
    if (firstError) firstError.focus();
  };
  await draw();
}

async function shiftScreen(id) {
  S.live = true;
  const rec = await record("shift", id);
  if (!rec) return layout(t("shiftLog"), h("p", {}, t("none")));
  const f = form("shift");
  const d = rec.data;
  const statusChoices = fieldOf(f, "status_timeline").members.status;
  const decisionField = fieldOf(f, "calls_offered").members.decision;
  const engagements = sortBy((await records("engagement")).filter((r) => r.data.shift === id), (r) => r.data.on_scene_at || "");
  const comment = d.review_status === "returned" && d.review_comment
    ? h("section", { class: "returned", role: "alert", tabindex: "-1", id: "return-comment" },
      h("h2", {}, t("returnedTitle")), h("p", { class: "comment" }, d.review_comment))
    : null;
  const canSubmit = ["open", "returned", undefined].includes(d.review_status);
  await layout(`${t("shiftLog")}: ${d.call_sign}`,
    comment,
    h("p", {}, `${t("reviewStatus")}: `, h("strong", {}, reviewLabel(d.review_status))),
    h("p", {}, `${fieldOf(f, "started_at").label}: ${formatTime(d.started_at)}`, d.ended_at ? ` · ${fieldOf(f, "ended_at").label}: ${formatTime(d.ended_at)}` : ""),
    h("h2", {}, fieldOf(f, "status_timeline").label),
    h("ol", { class: "timeline" }, (d.status_timeline || []).map((s) => h("li", {}, `${formatTime(s.at)} · ${choiceLabel(statusChoices, s.status)}`))),
    h("h2", {}, fieldOf(f, "calls_offered").label),
    h("ul", { class: "cards" }, (d.calls_offered || []).map((c) => h("li", {}, `${c.cad_number} · ${c.call_type || ""} · ${choiceLabel(decisionField, c.decision)}${c.decline_reason ? ` (${c.decline_reason})` : ""}`))),
    h("h2", {}, `${t("engagements")} (${engagements.length})`),
    engagementList(engagements),
    canSubmit ? h("button", { type: "button", class: "primary big", onclick: () => submitShift(rec) },
      d.review_status === "returned" ? t("resubmit") : t("endAndSubmit")) : null);
  if (comment) comment.focus();
}

async function submitShift(rec) {
  const fail = (message) => {
    S.flash = message;
    S.flashBad = true;
    return render();
  };
  if (!navigator.onLine) return fail(t("submitNeedsSync"));
  S.dirty = true; // no re-render under the person's finger while this runs
  if (!rec.data.ended_at) await saveEdit(S.session.username, "shift", rec.id, { ended_at: nowIso() });
  await sync();
  await sync(); // the first call may have joined a sync already running
  const c = await counts(S.session.username);
  if (c.outbox || c.rejected) return fail(t("submitNeedsSync"));
  try {
    await call("POST", `/api/v1/shifts/${rec.id}/submit`);
  } catch (exc) {
    return fail(exc.message);
  }
  S.flash = t("submitted");
  await sync();
  return render();
}

// ---------------------------------------------------------------- DVP

const CONTACT_QUICK = [
  ["reachedInPerson", { made: true, mode: "in_person", outcome: "reached" }],
  ["reachedPhone", { made: true, mode: "phone", outcome: "reached" }],
  ["noAnswerPhone", { made: false, mode: "phone", outcome: "no_answer" }],
  ["noAnswerInPerson", { made: false, mode: "in_person", outcome: "no_answer" }],
];

async function dvpHome() {
  S.live = true;
  const cases = sortBy(await records("follow_up_case"), (r) => r.data.next_contact_due || "9999");
  const incidents = sortBy(await records("incident"), (r) => r.data.occurred_at || "", true);
  const statusField = fieldOf(form("follow_up_case"), "status");
  const caseCards = cases.map((r) => {
    const overdue = r.data.next_contact_due && r.data.next_contact_due < today() && !["closed", "resolved"].includes(r.data.status);
    const quick = h("div", { class: "chips", hidden: true, role: "group", "aria-label": t("contactAttempt") },
      CONTACT_QUICK.map(([label, fields]) => h("button", { type: "button", class: "chip", onclick: async () => {
        await saveEdit(S.session.username, "contact_attempt", uuid(), { case: r.id, attempted_at: nowIso(), ...fields },
          { create: true, team: r.data.team || teamId() });
        S.flash = t("saved");
        render();
      } }, t(label))));
    return h("li", { class: overdue ? "overdue" : "" },
      h("a", { href: `#/case/${r.id}` }, summary("follow_up_case", r.data)),
      " · ", choiceLabel(statusField, r.data.status),
      r.data.next_contact_due ? ` · ${t("due")} ${r.data.next_contact_due}` : "",
      overdue ? h("strong", { class: "badge bad" }, t("overdue")) : null,
      h("div", {}, h("button", { type: "button", class: "secondary", "aria-expanded": "false", onclick: (e) => {
        quick.hidden = !quick.hidden;
        S.dirty = !quick.hidden; // keep the open choices on screen while syncing
        e.target.setAttribute("aria-expanded", String(!quick.hidden));
      } }, t("contactAttempt")), quick));
  });
  return layout(t("dvpHome"),
    await noticesSection(),
    h("section", { "aria-labelledby": "cases-h" }, h("h2", { id: "cases-h" }, t("cases")),
      cases.length ? h("ul", { class: "cards" }, caseCards) : h("p", {}, t("noCases")),
      h("a", { href: "#/case/new", class: "button secondary" }, t("newCase"))),
    h("section", { "aria-labelledby": "inc-h" }, h("h2", { id: "inc-h" }, t("incidents")),
      incidents.length ? h("ul", { class: "cards" }, incidents.map((r) => h("li", {},
        h("a", { href: `#/incident/${r.id}` }, summary("incident", r.data)),
        r.rejected ? h("span", { class: "badge bad" }, t("rejectedTitle")) : null,
        " ", h("a", { href: `#/scene/new?incident=${r.id}`, class: "button small" }, t("newSceneResponse"))))) : h("p", {}, t("noIncidents")),
      h("a", { href: "#/incident/new", class: "button primary" }, t("newIncident"))));
}

const FORM_FIELDS = {
  incident: ["dvp_number", "police_case_number", "kind", "occurred_at", "address", "cross_street", "beat", "victims",
    "notified_via", "notified_at", "notes"],
  scene_response: ["incident", "arrived_at", "departed_at", "risk_level", "risk_reasons", "people_reached",
    "immediate_services", "never_share_with_police", "notes"],
  follow_up_case: ["persons", "status", "assigned_to", "opened_at", "next_contact_due", "never_share_with_police", "notes"],
  contact_attempt: ["case", "attempted_at", "made", "mode", "outcome", "notes"],
  shift: ["call_sign", "started_at", "ended_at", "notes"],
  engagement: [...ENGAGEMENT_QUICK, ...ENGAGEMENT_DISPATCH, ...ENGAGEMENT_MORE],
};

async function referenceOptions() {
  const out = {};
  for (const type of ["incident", "shift", "follow_up_case"]) {
    out[type] = (await records(type)).map((r) => ({ value: r.id, label: summary(type, r.data) }));
  }
  out.user = [S.me, ...(S.me.teammates || [])].map((u) => ({ value: u.id, label: [u.first_name, u.last_name].filter(Boolean).join(" ") || u.username }));
  return out;
}

async function recordScreen(type, id, params, { fix = null } = {}) {
  S.live = false;
  const f = form(type);
  const names = allowedFields(type, FORM_FIELDS[type]);
  const existing = id ? await record(type, id) : null;
  const defaults = {
    incident: { occurred_at: nowIso() },
    scene_response: { incident: params.get("incident"), arrived_at: nowIso() },
    follow_up_case: { status: "open", opened_at: nowIso(), assigned_to: S.me.id },
    contact_attempt: { case: params.get("case"), attempted_at: nowIso() },
  }[type] || {};
  const base = existing ? existing.data : defaults;
  const values = JSON.parse(JSON.stringify({ ...base, ...(fix ? fix.replay?.fields || fix.fields : {}) }));
  const original = JSON.parse(JSON.stringify(existing?.server || {}));
  const refs = await referenceOptions();
  const serverErrors = {};
  if (fix) for (const [n, errs] of Object.entries(fix.fieldErrors || {})) serverErrors[n] = errs.map((e) => e.message || e.code);
  const draw = async (errors) => {
    const formEl = h("form", { class: "record", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      const cleaned = clean(f, values);
      const errs = validate(f, cleaned, new Set(names));
      if (Object.keys(errs).length) {
        Object.assign(values, cleaned);
        return draw(errs);
      }
      if (fix) {
        const fields = {};
        const keys = new Set([...Object.keys(fix.fields), ...Object.keys(changedFields(fix.op === "create" ? {} : original, cleaned, names))]);
        for (const n of keys) if (names.includes(n) || n in fix.fields) fields[n] = cleaned[n];
        await queueReplay(fix.mutation_id, fields);
        S.flash = t("resendQueued");
        return go("#/sync");
      }
      if (existing && existing.server) {
        const changed = changedFields(existing.data, cleaned, names);
        if (Object.keys(changed).length) await saveEdit(S.session.username, type, existing.id, changed);
      } else {
        const fields = {};
        for (const n of names) if (cleaned[n] !== undefined && cleaned[n] !== null && cleaned[n] !== "") fields[n] = cleaned[n];
        await saveEdit(S.session.username, type, existing ? existing.id : uuid(), fields, { create: true, team: teamId() });
      }
      S.flash = t("saved");
      return go("#/");
    } },
    fix ? h("section", { class: "rejected", role: "alert" }, h("h2", {}, t("rejectedTitle")), h("p", {}, fix.message)) : null,
    Object.keys(errors).length ? h("p", { class: "alert", role: "alert" }, t("fixErrors")) : null,
    renderFields(f, names, values, errors, { references: refs, hiddenMembers: ["name"] }),
    h("div", { class: "savebar" }, h("button", { type: "submit", class: "primary big" }, fix ? t("resend") : t("save")),
      h("a", { href: fix ? "#/sync" : "#/", class: "button secondary" }, t("cancel"))));
    const extra = [];
    if (existing && type === "follow_up_case") {
      const attempts = sortBy((await records("contact_attempt")).filter((r) => r.data.case === existing.id), (r) => r.data.attempted_at || "", true);
      extra.push(h("h2", {}, t("attempts")), h("ul", { class: "cards" }, attempts.map((r) => h("li", {}, summary("contact_attempt", r.data)))));
    }
    await layout(fix ? t("fixAndResend") : existing ? `${f.label}: ${summary(type, existing.data)}` : f.label,
      existing && !fix ? await noticesSection(existing.key) : null,
      existing && !fix ? await rejectedFor(existing.key) : null,
      formEl, extra);
    const firstError = root().querySelector(".invalid input, .invalid button, .invalid select, .invalid textarea");
    if (firstError) firstError.focus();
  };
  await draw(serverErrors);
}

// ---------------------------------------------------------------- sync screen

async function rejectedFor(key) {
  const rows = await db.rejected.where("key").equals(key).toArray();
  if (!rows.length) return null;
  return h("section", { class: "rejected" }, rows.map((r) => rejectedItem(r)));
}

function rejectedItem(r) {
  const f = form(r.type);
  const fieldErrors = Object.entries(r.fieldErrors || {}).map(([n, errs]) =>
    h("li", {}, `${fieldOf(f, n)?.label || n}: ${errs.map((e) => e.message || e.code).join(" ")}`));
  return h("div", { class: "rejected-item" },
    h("p", {}, h("strong", {}, `${t("rejectedTitle")} — ${f?.label || r.type}`)),
    h("p", { class: "server-message" }, r.message),
    fieldErrors.length ? h("ul", {}, fieldErrors) : null,
    r.replay ? h("p", {}, t("resendQueued")) : h("a", { href: `#/fix/${r.mutation_id}`, class: "button primary" }, t("fixAndResend")));
}

async function syncScreen() {
  S.live = true;
  const owner = S.session.username;
  const outbox = await db.outbox.where("owner").equals(owner).sortBy("n");
  const rejected = await db.rejected.where("owner").equals(owner).toArray();
  const outItems = [];
  for (const e of outbox) {
    const rec = await db.records.get(e.key);
    outItems.push(h("li", {}, `${form(e.type)?.label || e.type}: ${rec ? summary(e.type, rec.data) : e.id}`,
      e.lastStatus === "pending" ? ` — ${t("pendingStatus")}` : ""));
  }
  await layout(t("syncState"),
    rejected.length ? h("section", { "aria-labelledby": "rj-h" }, h("h2", { id: "rj-h" }, t("rejectedTitle")), rejected.map(rejectedItem)) : null,
    h("section", { "aria-labelledby": "ob-h" }, h("h2", { id: "ob-h" }, t("outbox")),
      outItems.length ? h("ul", { class: "cards" }, outItems) : h("p", {}, t("nothingWaiting"))),
    await noticesSection(null, 50),
    h("p", { class: "small" }, `Device ${S.session.device_id} · app ${APP_VERSION} · forms ${S.forms?.form_version || ""}`),
    h("label", { for: "lang2" }, t("language")),
    (() => {
      const sel = h("select", { id: "lang2", onchange: async (e) => {
        setLanguage(e.target.value);
        await setMeta("lang", e.target.value);
        await loadForms();
        render();
      } }, LANGUAGES.map(([v, l]) => h("option", { value: v }, l)));
      sel.value = language();
      return sel;
    })());
}

// ---------------------------------------------------------------- router

// Renders run one after another, so a slow render of an earlier screen never lands over a later one.
let rendering = Promise.resolve();
function render() {
  const next = () => renderNow();
  rendering = rendering.then(next, next);
  return rendering;
}

async function renderNow({ refresh = false } = {}) {
  S.dirty = false;
  S.refreshing = refresh;
  S.renderedHash = location.hash;
  if (!S.session) return signInScreen(state.sessionEnded ? t("sessionEnded") : "");
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  const [screen, id] = parts;
  if (!S.forms) return layout(t("appName"), h("p", {}, t("networkError")));
  if (!screen) return program() === "DVP" ? dvpHome() : macroHome();
  if (screen === "sync") return syncScreen();
  if (screen === "engagement") return engagementScreen(id === "new" ? null : id, params);
  if (screen === "shift") return shiftScreen(id);
  if (screen === "fix") {
    const r = await db.rejected.get(id);
    if (!r) return go("#/sync");
    if (r.type === "engagement" || FORM_FIELDS[r.type]) return recordScreen(r.type, r.id, params, { fix: r });
  }
  const types = { incident: "incident", scene: "scene_response", case: "follow_up_case", attempt: "contact_attempt" };
  if (types[screen]) return recordScreen(types[screen], id === "new" ? null : id, params);
  return go("#/");
}

let liveTimer = null;
onChange(() => {
  if (!S.session) {
    return;
  }
  if (state.sessionEnded) {
    if (S.session) {
      S.session = null;
      render();
    }
    return;
  }
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => {
    // Lists follow the data as it syncs, unless the person has started typing on this screen. Decided when
    // the refresh's turn comes, so it never redraws a form opened in the meantime.
    const refresh = () =>
      S.live && !S.dirty && S.renderedHash === location.hash ? renderNow({ refresh: true }) : refreshBar();
    rendering = rendering.then(refresh, refresh);
  }, 100);
});

async function boot() {
  setLanguage((await getMeta("lang")) || (navigator.language || "en").slice(0, 2));
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch((exc) => console.error(exc));
    navigator.serviceWorker.addEventListener("message", (e) => {
      if (e.data === "sync") requestSync(0);
    });
  }
  S.session = await getMeta("session");
  if (S.session) {
    S.me = await getMeta(`me:${S.session.username}`);
    S.forms = await getMeta("forms");
    state.stopped = await getMeta(`stopped:${S.session.username}`);
    if (navigator.onLine) loadForms().then(() => S.live && render());
  }
  window.addEventListener("hashchange", render);
  document.addEventListener("input", () => {
    S.dirty = true;
  });
  window.addEventListener("online", () => {
    refreshBar();
    requestSync(0);
    navigator.serviceWorker?.ready.then((reg) => reg.sync?.register("outbox")).catch(() => {});
  });
  window.addEventListener("offline", refreshBar);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") requestSync(0);
  });
  setInterval(() => requestSync(0), 60_000);
  await render();
  document.body.dataset.ready = "true";
  if (S.session) requestSync(0);
}

boot();
