// paotui sandbox page: phones over the Telegram emulator. Plain JS, no build step.
"use strict";

const S = {
  state: null, // /api/state
  chats: new Map(), // chat id -> Map(message_id -> message)
  loaded: new Set(), // chat ids fetched at least once
  phones: [], // Phone objects
  nowBase: 0, // emulator time (s) at nowFetched (ms)
  nowFetched: 0,
};

// ---------------------------------------------------------------- helpers

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

async function api(path, opts) {
  const resp = await fetch(path, opts);
  let body = null;
  try { body = await resp.json(); } catch (_) { /* not JSON */ }
  if (!resp.ok) throw new Error((body && body.error) || `${resp.status} ${resp.statusText}`);
  return body;
}

// The API takes JSON only, as application/json (sandbox/web.py answers 415 to anything else,
// so another site's page cannot post to it as a form or text/plain).
function post(path, data) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(data),
  });
}

let toastTimer = null;
function toast(text) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 3500);
}

function alertBox(text) {
  document.getElementById("modal-text").textContent = text;
  document.getElementById("modal").hidden = false;
}

function fmtTime(sec, full) {
  // In the community's time zone (as the bot writes times), else the browser's.
  const opts = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (S.state && S.state.timezone) opts.timeZone = S.state.timezone;
  const day = (t) => new Intl.DateTimeFormat("sv-SE", { ...opts, hour: undefined, minute: undefined,
    year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(t * 1000));
  const hm = new Intl.DateTimeFormat("en-GB", opts).format(new Date(sec * 1000));
  if (!full && day(sec) === day(emuNow())) return hm;
  return `${day(sec)} ${hm}`;
}

function emuNow() {
  return S.nowBase + (Date.now() - S.nowFetched) / 1000;
}

function userById(id) {
  return (S.state.users || []).find((u) => u.id === id);
}

function userLabel(u) {
  return `${u.name} (${u.id})${u.role ? " · " + u.role : ""}`;
}

function chatMessages(chatId) {
  const m = S.chats.get(chatId);
  if (!m) return [];
  return [...m.values()].filter((x) => !x.deleted).sort((a, b) => a.message_id - b.message_id);
}

function storeMessages(chatId, msgs) {
  let m = S.chats.get(chatId);
  if (!m) { m = new Map(); S.chats.set(chatId, m); }
  for (const msg of msgs) {
    const old = m.get(msg.message_id);
    if (!old || (msg.edited || 0) >= (old.edited || 0) || msg.deleted) {
      if (old && (msg.edited || 0) > (old.edited || 0)) msg.flashUntil = Date.now() + 1200;
      m.set(msg.message_id, msg);
    }
  }
}

async function loadChat(chatId, force) {
  if (S.loaded.has(chatId) && !force) return;
  const msgs = await api(`/api/chats/${chatId}/messages`);
  S.loaded.add(chatId);
  storeMessages(chatId, msgs);
}

// Formatting entities: offsets are UTF-16 code units, like JS strings.
function renderText(text, entities) {
  const frag = document.createDocumentFragment();
  if (!text) return frag;
  const ents = (entities || []).filter((e) => e.length > 0);
  if (!ents.length) { frag.append(text); return frag; }
  const cuts = new Set([0, text.length]);
  for (const e of ents) { cuts.add(e.offset); cuts.add(Math.min(text.length, e.offset + e.length)); }
  const points = [...cuts].sort((a, b) => a - b);
  for (let i = 0; i + 1 < points.length; i++) {
    const [a, b] = [points[i], points[i + 1]];
    let node = document.createTextNode(text.slice(a, b));
    for (const e of ents) {
      if (e.offset > a || e.offset + e.length < b) continue;
      const tag = { bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code",
        pre: "pre", spoiler: "span", blockquote: "blockquote", text_link: "a", url: "a" }[e.type];
      if (!tag) continue;
      const w = document.createElement(tag);
      if (e.type === "spoiler") w.className = "spoiler";
      if (e.type === "text_link" || e.type === "url") {
        w.href = e.type === "url" ? text.slice(e.offset, e.offset + e.length) : e.url;
        w.target = "_blank";
        w.rel = "noopener";
      }
      w.append(node);
      node = w;
    }
    frag.append(node);
  }
  return frag;
}

function fileUrl(obj) { return `/file/${encodeURIComponent(obj.file_id)}`; }

function fmtSize(n) {
  if (n == null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// ---------------------------------------------------------------- a phone

class Phone {
  constructor(userId, openChat) {
    this.userId = userId;
    this.openChat = openChat || userId;
    this.lastSeen = new Map(); // chat id -> highest message id seen
    this.root = document.getElementById("phone-tpl").content.firstElementChild.cloneNode(true);
    this.$ = (sel) => this.root.querySelector(sel);
    this.wire();
    this.setUser(userId, this.openChat);
  }

  wire() {
    const who = this.$(".who");
    who.addEventListener("change", () => this.setUser(Number(who.value)));
    this.$(".close").addEventListener("click", () => removePhone(this));
    this.$(".composer").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = this.$(".entry");
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      this.send({ kind: "text", text });
    });
    this.$(".attach").addEventListener("click", () => {
      this.$(".attach-menu").hidden = !this.$(".attach-menu").hidden;
    });
    for (const b of this.root.querySelectorAll("[data-pick]")) {
      b.addEventListener("click", () => {
        this.$(".attach-menu").hidden = true;
        this.$(`.f-${b.dataset.pick}`).click();
      });
    }
    for (const kind of ["photo", "document", "voice"]) {
      const input = this.$(`.f-${kind}`);
      input.addEventListener("change", () => {
        const file = input.files && input.files[0];
        input.value = "";
        if (file) this.upload(kind, file);
      });
    }
    this.$(".share-contact").addEventListener("click", () => {
      this.$(".attach-menu").hidden = true;
      this.shareContact();
    });
    this.$(".start").addEventListener("click", () => this.send({ kind: "text", text: "/start" }));
  }

  get user() { return userById(this.userId) || { id: this.userId, name: String(this.userId) }; }

  chatsOf() {
    const list = [{ id: this.userId, title: (S.state.bot && S.state.bot.first_name) || "Bot", bot: true }];
    for (const g of S.state.groups || []) {
      if (g.members.includes(this.userId)) list.push({ id: g.id, title: g.title, bot: false });
    }
    return list;
  }

  async setUser(userId, openChat) {
    this.userId = userId;
    this.root.dataset.user = String(userId);
    this.lastSeen = new Map();
    const chats = this.chatsOf();
    this.openChat = openChat && chats.some((c) => c.id === openChat) ? openChat : userId;
    const who = this.$(".who");
    who.replaceChildren(...S.state.users.map((u) =>
      el("option", { value: u.id, selected: u.id === userId }, userLabel(u))));
    await Promise.all(chats.map((c) => loadChat(c.id).catch(() => {})));
    this.render();
    renderPhoneTabs();
  }

  open(chatId) {
    this.openChat = chatId;
    this.render(true);
  }

  unread(chatId) {
    const seen = this.lastSeen.get(chatId) || 0;
    return chatMessages(chatId).filter((m) => m.message_id > seen && !this.isMine(m)).length;
  }

  isMine(m) {
    if (this.openChatIsPrivate(m.chat && m.chat.id)) return !m.outgoing;
    return m.from && m.from.id === this.userId;
  }

  openChatIsPrivate(chatId) { return chatId > 0; }

  render(scrollToEnd) {
    const chats = this.chatsOf();
    const current = chats.find((c) => c.id === this.openChat) || chats[0];
    this.root.dataset.chat = String(current.id);
    // The chat list.
    const nav = this.$(".chats");
    nav.replaceChildren(...chats.map((c) => {
      const msgs = chatMessages(c.id);
      const last = msgs[msgs.length - 1];
      const n = c.id === current.id ? 0 : this.unread(c.id);
      return el("button", {
        type: "button",
        class: "chat-tab" + (c.id === current.id ? " active" : ""),
        "data-chat": c.id,
        onclick: () => this.open(c.id),
      },
      el("span", { class: "chat-name" }, (c.bot ? "🤖 " : "👥 ") + c.title),
      n ? el("span", { class: "badge" }, n) : null,
      el("span", { class: "chat-last" }, last ? (last.text || last.caption || mediaLabel(last)).split("\n")[0] : ""));
    }));
    // The messages.
    const box = this.$(".msgs");
    const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    const msgs = chatMessages(current.id);
    box.replaceChildren(...msgs.map((m) => this.renderMessage(m, current)));
    if (msgs.length) this.lastSeen.set(current.id, msgs[msgs.length - 1].message_id);
    if (scrollToEnd || atEnd) box.scrollTop = box.scrollHeight;
    // START for a private chat never used; the reply keyboard.
    this.$(".start-bar").hidden = !(current.bot && msgs.length === 0 && !this.user.started);
    this.renderKeyboard(current, msgs);
  }

  renderMessage(m, chat) {
    if (m.new_chat_members || m.left_chat_member) {
      const who = (m.new_chat_members || [m.left_chat_member]).map((u) => u.first_name).join(", ");
      return el("div", { class: "service" }, m.new_chat_members ? `${who} 加入了群组` : `${who} 离开了群组`);
    }
    const mine = chat.bot ? !m.outgoing : m.from && m.from.id === this.userId;
    const bubble = el("div", {
      class: "bubble" + (mine ? " mine" : "") + (m.edited ? " edited" : "")
        + (m.flashUntil > Date.now() ? " flash" : ""),
      "data-mid": m.message_id,
    });
    if (!mine && !chat.bot && m.from) {
      bubble.append(el("div", { class: "sender" }, m.from.first_name + (m.from.is_bot ? " 🤖" : "")));
    }
    if (m.reply_to_message) {
      const r = m.reply_to_message;
      bubble.append(el("div", { class: "reply-to" }, (r.text || r.caption || mediaLabel(r) || "").slice(0, 80)));
    }
    bubble.append(...renderMedia(m));
    const body = m.text !== undefined ? renderText(m.text, m.entities) : renderText(m.caption, m.caption_entities);
    if (m.text !== undefined || m.caption) bubble.append(el("div", { class: "text" }, body));
    bubble.append(el("div", { class: "meta" },
      m.edited ? "已编辑 edited · " : "", fmtTime(m.edit_date || m.date)));
    const wrap = el("div", { class: "row" + (mine ? " mine" : "") }, bubble);
    const markup = m.reply_markup;
    if (markup && markup.inline_keyboard) {
      wrap.append(el("div", { class: "inline-kbd" }, markup.inline_keyboard.map((row) =>
        el("div", { class: "kbd-row" }, row.map((b) => this.inlineButton(m, b))))));
    }
    return wrap;
  }

  inlineButton(m, b) {
    if (b.url) return el("a", { class: "ibtn", href: b.url, target: "_blank", rel: "noopener" }, b.text + " ↗");
    if (b.callback_data === undefined) return el("button", { type: "button", class: "ibtn", disabled: true }, b.text);
    return el("button", {
      type: "button",
      class: "ibtn",
      "data-data": b.callback_data,
      onclick: (ev) => this.press(m, b.callback_data, ev.currentTarget),
    }, b.text);
  }

  renderKeyboard(chat, msgs) {
    const kbd = this.$(".kbd");
    let markup = null;
    let after = false; // the user wrote after a one-time keyboard appeared
    if (chat.bot) {
      for (const m of msgs) {
        const rm = m.reply_markup;
        if (m.outgoing && rm && (rm.keyboard || rm.remove_keyboard)) { markup = rm.keyboard ? rm : null; after = false; }
        else if (!m.outgoing) after = true;
      }
    }
    if (!markup || (markup.one_time_keyboard && after)) { kbd.hidden = true; kbd.replaceChildren(); return; }
    kbd.hidden = false;
    kbd.replaceChildren(...markup.keyboard.map((row) => el("div", { class: "kbd-row" }, row.map((b) => {
      const label = typeof b === "string" ? b : b.text;
      return el("button", {
        type: "button",
        class: "kbtn",
        onclick: () => (b.request_contact ? this.shareContact() : this.send({ kind: "text", text: label })),
      }, b.request_contact ? `📱 ${label}` : label);
    }))));
  }

  async send(data) {
    try {
      await post("/api/send", { user_id: this.userId, chat_id: this.openChat, ...data });
    } catch (e) { toast(`✖ ${e.message}`); }
  }

  shareContact() {
    this.send({ kind: "contact", phone: this.user.phone });
  }

  async upload(kind, file) {
    const form = new FormData();
    form.append("user_id", String(this.userId));
    form.append("chat_id", String(this.openChat));
    form.append("kind", kind);
    form.append("file", file, file.name);
    try {
      await api("/api/send", { method: "POST", body: form });
    } catch (e) { toast(`✖ ${e.message}`); }
  }

  async press(m, data, button) {
    button.classList.add("pressed");
    try {
      const r = await post("/api/press", {
        user_id: this.userId, chat_id: m.chat.id, message_id: m.message_id, data,
      });
      const a = r.answer;
      if (a && a.text) (a.show_alert ? alertBox(a.text) : toast(a.text));
      else if (!a) toast("…the bot did not answer (yet)");
    } catch (e) {
      toast(`✖ ${e.message}`);
    } finally {
      button.classList.remove("pressed");
    }
  }
}

function mediaLabel(m) {
  if (m.photo) return "🖼 照片";
  if (m.document) return `📄 ${m.document.file_name || "文件"}`;
  if (m.voice) return "🎤 语音";
  if (m.contact) return `📱 ${m.contact.phone_number}`;
  if (m.location) return "📍 位置";
  if (m.sticker) return m.sticker.emoji || "贴纸";
  return "";
}

function renderMedia(m) {
  const out = [];
  if (m.photo && m.photo.length) {
    const big = m.photo[m.photo.length - 1];
    out.push(el("a", { href: fileUrl(big), target: "_blank", class: "photo" },
      el("img", { src: fileUrl(big), alt: "photo", loading: "lazy" })));
  }
  if (m.document) {
    out.push(el("a", { class: "file", href: fileUrl(m.document), target: "_blank", download: m.document.file_name || true },
      `📄 ${m.document.file_name || "file"} `, el("span", { class: "muted" }, fmtSize(m.document.file_size))));
  }
  if (m.voice) {
    out.push(el("div", { class: "voice" }, `🎤 语音 ${m.voice.duration || ""}s `,
      el("a", { href: fileUrl(m.voice), target: "_blank" }, "▶ 播放/下载")));
  }
  if (m.audio) out.push(el("a", { class: "file", href: fileUrl(m.audio), target: "_blank" }, "🎵 audio"));
  if (m.contact) {
    out.push(el("div", { class: "contact" }, `📱 ${m.contact.first_name || ""} ${m.contact.phone_number}`));
  }
  if (m.location) out.push(el("div", { class: "contact" }, `📍 ${m.location.latitude}, ${m.location.longitude}`));
  if (m.sticker) out.push(el("div", { class: "sticker" }, m.sticker.emoji || "🖼"));
  return out;
}

// ---------------------------------------------------------------- page

function renderAll(chatId) {
  for (const p of S.phones) {
    if (chatId === undefined || p.chatsOf().some((c) => c.id === chatId)) p.render();
  }
}

function renderPhoneTabs() {
  const nav = document.getElementById("phone-tabs");
  nav.replaceChildren(...S.phones.map((p) => el("button", {
    type: "button",
    onclick: () => p.root.scrollIntoView({ behavior: "smooth", inline: "start", block: "nearest" }),
  }, p.user.name)));
}

function addPhone(userId, openChat) {
  const p = new Phone(userId, openChat);
  S.phones.push(p);
  document.getElementById("phones").append(p.root);
  renderPhoneTabs();
  return p;
}

function removePhone(p) {
  S.phones = S.phones.filter((x) => x !== p);
  p.root.remove();
  renderPhoneTabs();
}

function renderClock() {
  document.getElementById("now").textContent = fmtTime(emuNow(), true);
}

function connectEvents() {
  const es = new EventSource("/events");
  let first = true;
  es.addEventListener("open", async () => {
    if (first) { first = false; return; }
    // Reconnected: catch up on what was missed.
    await Promise.all([...S.loaded].map((id) => loadChat(id, true).catch(() => {})));
    renderAll();
  });
  es.addEventListener("messages", (ev) => {
    const data = JSON.parse(ev.data);
    // Kept even for a chat no phone has fetched yet; its full history is merged in when one does.
    storeMessages(data.chat_id, data.messages);
    renderAll(data.chat_id);
  });
}

async function refreshState() {
  S.state = await api("/api/state");
  S.nowBase = S.state.now;
  S.nowFetched = Date.now();
  renderClock();
}

async function main() {
  await refreshState();
  connectEvents();
  const clock = document.getElementById("clock");
  for (const b of clock.querySelectorAll("button")) {
    b.disabled = !S.state.can_advance;
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        const r = await post("/api/time", { minutes: Number(b.dataset.minutes) });
        S.nowBase = r.now;
        S.nowFetched = Date.now();
        renderClock();
        toast(r.note || "🕒 时间已拨快");
        renderAll();
      } catch (e) { toast(`✖ ${e.message}`); }
      b.disabled = false;
    });
  }
  document.getElementById("clock-note").textContent = S.state.clock_note || "";
  document.getElementById("help-toggle").addEventListener("click", () => {
    const h = document.getElementById("help");
    h.hidden = !h.hidden;
  });
  document.getElementById("modal-ok").addEventListener("click", () => {
    document.getElementById("modal").hidden = true;
  });
  document.getElementById("add-phone").addEventListener("click", () => {
    const used = new Set(S.phones.map((p) => p.userId));
    const next = S.state.users.find((u) => !used.has(u.id)) || S.state.users[0];
    const p = addPhone(next.id);
    p.root.scrollIntoView({ behavior: "smooth", inline: "end", block: "nearest" });
  });
  setInterval(renderClock, 20000);
  // The default phones: two residents, a volunteer in the grid's group, a staff member.
  const byRole = (role) => S.state.users.filter((u) => u.role === role).map((u) => u.id);
  const residents = byRole("居民 resident");
  const volunteers = byRole("志愿者 volunteer");
  const staff = byRole("工作人员 staff");
  const ids = S.state.users.map((u) => u.id);
  const picks = [residents[0], residents[1], volunteers[0], staff[0]].filter((x) => x !== undefined);
  for (const id of (picks.length ? picks : ids.slice(0, 4))) {
    const group = (S.state.groups || []).find((g) => g.members.includes(id));
    addPhone(id, volunteers.includes(id) && group ? group.id : undefined);
  }
  if (!localStorage.getItem("paotui-sandbox-seen")) {
    document.getElementById("help").hidden = false;
    localStorage.setItem("paotui-sandbox-seen", "1");
  }
}

main().catch((e) => { document.body.prepend(el("pre", { class: "fatal" }, String(e))); });
