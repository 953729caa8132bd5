// Forms built from the server's description of each record type (GET /api/v1/forms).
import { h, uid } from "./dom.js";
import { t } from "./i18n.js";

export function formOf(forms, type) {
  return forms.types.find((f) => f.type === type);
}

export function fieldOf(form, name) {
  return form.fields.find((f) => f.name === name);
}

export function choiceLabel(ff, value) {
  const c = (ff?.choices || []).find((x) => x.value === value);
  return c ? c.label : value;
}

/** A value in words, for lists and for conflict notices. */
export function describeValue(ff, value) {
  if (value === null || value === undefined || value === "") return t("none");
  if (!ff) return typeof value === "object" ? JSON.stringify(value) : String(value);
  if (ff.kind === "choice") return choiceLabel(ff, value);
  if (ff.kind === "codes") return value.map((v) => choiceLabel(ff, v)).join(", ") || t("none");
  if (ff.kind === "counts") {
    return Object.entries(value).filter(([, n]) => n).map(([k, n]) => `${choiceLabel(ff, k)} × ${n}`).join(", ") || t("none");
  }
  if (ff.kind === "boolean") return value ? t("yes") : t("no");
  if (ff.kind === "datetime") return formatTime(value);
  if (ff.kind === "items") return `${value.length}`;
  return String(value);
}

export function formatTime(iso) {
  if (!iso) return t("none");
  const d = new Date(iso);
  return d.toLocaleString(document.documentElement.lang || "en", {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function empty(v) {
  return v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);
}

function emptyItem(item) {
  return Object.values(item || {}).every(empty);
}

/** What the app can check before saving: required fields, lengths, items, and the cross-field rules. */
export function validate(form, values, visible) {
  const errors = {};
  const add = (name, message) => {
    (errors[name] ||= []).push(message);
  };
  for (const ff of form.fields) {
    if (visible && !visible.has(ff.name)) continue;
    const v = values[ff.name];
    if (ff.required && empty(v)) add(ff.name, t("required"));
    if (ff.max_length && typeof v === "string" && v.length > ff.max_length) add(ff.name, `≤ ${ff.max_length}`);
    if (ff.kind === "items" && Array.isArray(v)) {
      for (const item of v) {
        for (const m of ff.item_required || []) if (empty(item[m])) add(ff.name, `${ff.members[m].label}: ${t("required")}`);
      }
    }
  }
  const matches = (when) => Object.entries(when || {}).every(([k, allowed]) => allowed.includes(values[k]));
  for (const rule of form.rules || []) {
    if (rule.kind === "required_if" && matches(rule.when) && empty(values[rule.field])) add(rule.field, rule.message);
    if (rule.kind === "forbidden_if" && matches(rule.when) && rule.values.includes(values[rule.field])) add(rule.field, rule.message);
    if (rule.kind === "together") {
      const filled = rule.fields.filter((f) => !empty(values[f]));
      if (filled.length && filled.length < rule.fields.length) add(rule.fields[0], rule.message);
    }
    if (rule.kind === "order") {
      let previous = null;
      for (const f of rule.fields) {
        if (empty(values[f])) continue;
        if (previous && Date.parse(values[f]) < Date.parse(values[previous])) add(f, rule.message);
        previous = f;
      }
    }
    if (rule.kind === "item_required_if") {
      for (const item of values[rule.field] || []) {
        if (Object.entries(rule.when).every(([k, allowed]) => allowed.includes(item[k])) && empty(item[rule.member])) {
          add(rule.field, rule.message);
        }
      }
    }
  }
  return errors;
}

/** Drop empty list items (an untouched person or referral row). */
export function clean(form, values) {
  const out = { ...values };
  for (const ff of form.fields) {
    if (ff.kind === "items" && Array.isArray(out[ff.name])) out[ff.name] = out[ff.name].filter((i) => !emptyItem(i));
  }
  return out;
}

function chips(ff, name, options, selected, multiple, onPick) {
  const group = h("div", { class: "chips", role: "group" });
  for (const c of options) {
    const on = multiple ? (selected || []).includes(c.value) : selected === c.value;
    const b = h("button", { type: "button", class: "chip", "aria-pressed": on ? "true" : "false", dataset: { value: c.value } }, c.label);
    b.addEventListener("click", () => {
      const pressed = b.getAttribute("aria-pressed") === "true";
      if (multiple) {
        b.setAttribute("aria-pressed", pressed ? "false" : "true");
      } else {
        for (const other of group.querySelectorAll("button")) other.setAttribute("aria-pressed", "false");
        b.setAttribute("aria-pressed", pressed && !ff.required ? "false" : "true"); // tap again to clear
      }
      const picked = [...group.querySelectorAll("button[aria-pressed=true]")].map((x) => x.dataset.value);
      onPick(multiple ? picked : picked[0] ?? "");
    });
    group.append(b);
  }
  return group;
}

function counter(ff, values, name) {
  const box = h("div", { class: "counters" });
  for (const c of ff.choices) {
    const out = h("output", { "aria-live": "polite", id: uid("n") }, String((values[name] || {})[c.value] || 0));
    const change = (delta) => {
      const counts = { ...(values[name] || {}) };
      const n = Math.max(0, Math.min(ff.max_count || 500, (counts[c.value] || 0) + delta));
      if (n) counts[c.value] = n;
      else delete counts[c.value];
      values[name] = counts;
      out.textContent = String(n);
    };
    box.append(
      h("div", { class: "counter" },
        h("span", { class: "counter-label" }, c.label),
        h("button", { type: "button", class: "round", "aria-label": `${t("counterMinus")}: ${c.label}`, onclick: () => change(-1) }, "−"),
        out,
        h("button", { type: "button", class: "round", "aria-label": `${t("counterPlus")}: ${c.label}`, onclick: () => change(1) }, "+"),
      ),
    );
  }
  return box;
}

function itemsEditor(ff, values, name, opts) {
  const box = h("div", { class: "items" });
  const members = Object.entries(ff.members).filter(([m]) => !(opts.hiddenMembers || []).includes(m));
  const draw = () => {
    box.replaceChildren();
    const list = values[name] || [];
    list.forEach((item, index) => {
      const row = h("div", { class: "item" });
      for (const [m, spec] of members) {
        const id = uid("m");
        if (spec.choices && spec.choices.length <= 8) {
          row.append(h("div", { class: "member" }, h("span", { class: "sublabel", id }, spec.label),
            chips({ required: false }, m, spec.choices, item[m], false, (v) => { item[m] = v; })));
          row.lastChild.querySelector(".chips").setAttribute("aria-labelledby", id);
        } else if (spec.choices) {
          const sel = h("select", { id, onchange: (e) => { item[m] = e.target.value; } },
            h("option", { value: "" }, t("choose")), spec.choices.map((c) => h("option", { value: c.value }, c.label)));
          sel.value = item[m] || "";
          row.append(h("div", { class: "member" }, h("label", { for: id }, spec.label), sel));
        } else {
          row.append(h("div", { class: "member" }, h("label", { for: id }, opts.memberLabels?.[m] || spec.label),
            h("input", { id, type: "text", maxlength: spec.max_length, value: item[m] || "", oninput: (e) => { item[m] = e.target.value; } })));
        }
      }
      if (list.length > 1 || !emptyItem(item)) {
        row.append(h("button", { type: "button", class: "link", onclick: () => { list.splice(index, 1); if (!list.length) list.push({}); draw(); } }, t("remove")));
      }
      box.append(row);
    });
    box.append(h("button", { type: "button", class: "secondary", onclick: () => { list.push({}); draw(); } }, `${t("add")}: ${ff.label}`));
  };
  if (!Array.isArray(values[name]) || !values[name].length) values[name] = [{}];
  else values[name] = values[name].map((i) => ({ ...i }));
  draw();
  return box;
}

/**
 * Render the named fields of a form. `values` is edited in place. Returns the element; `errors` decorate fields.
 * opts: {references: {type: [{value,label}]}, labels: {name: label}, onChange(name, value)}
 */
export function renderFields(form, names, values, errors = {}, opts = {}) {
  const box = h("div", { class: "fields" });
  for (const name of names) {
    const ff = fieldOf(form, name);
    if (!ff) continue;
    const id = uid(name);
    const errId = `${id}-err`;
    const label = opts.labels?.[name] || ff.label;
    const set = (v) => {
      values[name] = v;
      opts.onChange?.(name, v);
    };
    let control;
    let legend = false;
    if (ff.kind === "choice" && ff.choices.length <= 9) {
      control = chips(ff, name, ff.choices, values[name], false, set);
      legend = true;
    } else if (ff.kind === "choice") {
      control = h("select", { id, onchange: (e) => set(e.target.value) },
        h("option", { value: "" }, t("choose")), ff.choices.map((c) => h("option", { value: c.value }, c.label)));
      control.value = values[name] || "";
    } else if (ff.kind === "codes") {
      control = chips(ff, name, ff.choices, values[name] || [], true, set);
      legend = true;
    } else if (ff.kind === "counts") {
      control = counter(ff, values, name);
      legend = true;
    } else if (ff.kind === "items") {
      control = itemsEditor(ff, values, name, opts);
      legend = true;
    } else if (ff.kind === "long_text") {
      control = h("textarea", { id, rows: 3, maxlength: ff.max_length, oninput: (e) => set(e.target.value) });
      control.value = values[name] || "";
    } else if (ff.kind === "boolean") {
      control = h("input", { id, type: "checkbox", checked: !!values[name], onchange: (e) => set(e.target.checked) });
    } else if (ff.kind === "datetime") {
      control = h("input", { id, type: "datetime-local", value: toLocalInput(values[name]),
        onchange: (e) => set(e.target.value ? new Date(e.target.value).toISOString() : null) });
    } else if (ff.kind === "date") {
      control = h("input", { id, type: "date", value: values[name] || "", onchange: (e) => set(e.target.value || null) });
    } else if (ff.kind === "decimal") {
      control = h("input", { id, type: "number", step: "any", inputmode: "decimal", value: values[name] ?? "",
        oninput: (e) => set(e.target.value === "" ? null : e.target.value) });
    } else if (ff.kind === "reference") {
      const options = opts.references?.[ff.references] || [];
      control = h("select", { id, onchange: (e) => set(e.target.value || null) },
        h("option", { value: "" }, t("choose")), options.map((o) => h("option", { value: o.value }, o.label)));
      control.value = values[name] || "";
    } else if (ff.kind === "text") {
      control = h("input", { id, type: "text", maxlength: ff.max_length, value: values[name] || "", oninput: (e) => set(e.target.value) });
    } else {
      continue; // id lists (crew, responders) have their own controls
    }
    const help = ff.help ? h("p", { class: "help", id: `${id}-help` }, ff.help) : null;
    const err = errors[name] ? h("p", { class: "error", id: errId, role: "alert" }, errors[name].join(" ")) : null;
    const described = [help && `${id}-help`, err && errId].filter(Boolean).join(" ") || null;
    const mark = ff.required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null;
    let wrap;
    if (legend) {
      control.setAttribute("aria-labelledby", `${id}-legend`);
      if (described) control.setAttribute("aria-describedby", described);
      wrap = h("fieldset", { class: `field${err ? " invalid" : ""}`, dataset: { field: name } },
        h("legend", { id: `${id}-legend` }, label, mark), help, control, err);
    } else {
      if (described) control.setAttribute("aria-describedby", described);
      if (err) control.setAttribute("aria-invalid", "true");
      if (ff.required) control.setAttribute("aria-required", "true");
      wrap = h("div", { class: `field${err ? " invalid" : ""}`, dataset: { field: name } },
        h("label", { for: id }, label, mark), help, control, err);
    }
    box.append(wrap);
  }
  return box;
}

/** The fields whose values differ from the original (what an update sends). */
export function changedFields(original, values, names) {
  const out = {};
  for (const n of names) {
    const a = JSON.stringify(original?.[n] ?? null);
    const b = JSON.stringify(values[n] ?? null);
    if (a !== b) out[n] = values[n];
  }
  return out;
}
