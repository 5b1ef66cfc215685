"use strict";
// reco's page: plain DOM, no framework, nothing from another origin. Movie titles are
// data: they reach the page through textContent only, never innerHTML.
//
// What the server offers is read from /openapi.json once: the genres, the rating scale,
// whether the artifacts carry a family flag, and which optional routes exist (the
// feedback store: POST /users and /users/{user}/ratings; P(like) for a pair:
// /users/{user}/movies/{movie}; GET /stats). Without the store, the visitor's ratings
// live in localStorage and recommendations come from POST /recommend.

const $ = (id) => document.getElementById(id);
const POPULAR_ID = 2147483647;  // an id no trained user has: the API answers popular titles
const KEYS = { ratings: "reco.ratings", movies: "reco.movies", visitor: "reco.visitor" };
const FAMILY_THRESHOLD = 0.5;  // as the service's family=true

const state = {
  genres: [], scale: [0.5, 5], family: false,
  has: { users: false, store: false, pair: false, stats: false },
  visitor: null,            // the visitor's id in the feedback store
  ratings: new Map(),       // movie id -> {rating, timestamp}
  movies: new Map(),        // movie id -> {display_title, year, genres}: for the list
  view: { user: null },     // whose recommendations are shown (null: the visitor)
  query: "",
  panelMovie: null,
};

// ------------------------------------------------------------------ helpers
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "data") Object.assign(node.dataset, value);
    else if (key.startsWith("aria-") || key === "role" || key === "for") node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function setStatus(text, kind = "") {
  $("status").textContent = text;
  $("status").className = kind;  // "warn": a visitor-facing notice, never a red trace
}

class ApiFailure extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(url, options = {}) {
  const response = await fetch(url, options);
  if (response.status === 204) return null;
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    throw new ApiFailure(response.status, message);
  }
  return body;
}

function postJSON(url, data) {
  return api(url, { method: "POST", headers: { "Content-Type": "application/json" },
                    body: JSON.stringify(data) });
}

function load(key, fallback) {
  try { return JSON.parse(localStorage.getItem(key)) ?? fallback; } catch (_) { return fallback; }
}

function save(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch (_) { /* private mode */ }
}

function titleOf(movie) {
  return movie.display_title || movie.title || `Movie ${movie.movie_id}`;
}

function percent(p) {
  return `${Math.round(p * 100)} % match`;
}

function fmtRating(value) {
  return Number(value).toFixed(1).replace(/\.0$/, "");
}

function remember(movie) {
  if (!movie || movie.movie_id === undefined) return;
  state.movies.set(movie.movie_id, { display_title: titleOf(movie), year: movie.year ?? null,
                                     genres: movie.genres || [] });
}

function saveMovies() {
  const rated = {};
  for (const id of state.ratings.keys()) if (state.movies.has(id)) rated[id] = state.movies.get(id);
  save(KEYS.movies, rated);
}

// ------------------------------------------------------------------ filters
function filterParams({ genres = true, family = true } = {}) {
  const params = new URLSearchParams();
  if (genres) {
    for (const box of document.querySelectorAll("#genres input:checked")) params.append("genre", box.value);
    const low = yearValue("year-min"), high = yearValue("year-max");
    if (low !== null) params.set("year_min", String(low));
    if (high !== null) params.set("year_max", String(high));
  }
  if (family && familyOn()) params.set("family", "true");
  return params;
}

function yearValue(id) {
  const raw = $(id).value.trim();
  if (!/^[0-9]{4}$/.test(raw)) return null;
  const year = Number(raw);
  return year >= 1800 && year <= 2100 ? year : null;
}

function familyOn() {
  return state.family && $("family").checked;
}

function describeFilters() {
  const parts = [];
  const genres = [...document.querySelectorAll("#genres input:checked")].map((b) => b.value);
  if (genres.length) parts.push(genres.join(" or "));
  const low = yearValue("year-min"), high = yearValue("year-max");
  if (low !== null && high !== null) parts.push(`${low}–${high}`);
  else if (low !== null) parts.push(`from ${low}`);
  else if (high !== null) parts.push(`up to ${high}`);
  $("filters-summary").textContent = parts.length ? `(${parts.join(", ")})` : "";
  return parts;
}

function statusSuffix() {
  return familyOn() ? " Family mode is on: family-friendly titles only." : "";
}

// ------------------------------------------------------------------ stars
let starGroups = 0;

function stars(movie, label) {
  const [low, high] = state.scale;
  const group = el("div", { class: "stars", role: "radiogroup", "aria-label": label,
                            data: { movieId: String(movie.movie_id) } });
  const name = `stars-${++starGroups}`;
  for (let value = low, n = 0; value <= high + 1e-9; value += 0.5, n += 1) {
    const v = Math.round(value * 2) / 2;
    const input = el("input", { type: "radio", name, value: String(v),
                                "aria-label": `${fmtRating(v)} star${v === 1 ? "" : "s"}` });
    input.addEventListener("change", () => rate(movie, v));
    const half = el("label", { class: `half ${n % 2 === 0 ? "left" : "right"}`,
                               title: `${fmtRating(v)} / ${fmtRating(high)}` },
                    input, el("span", { "aria-hidden": "true" }, "★"));
    half.addEventListener("mouseenter", () => paint(group, v, true));
    group.append(half);
  }
  group.addEventListener("mouseleave", () => paint(group, currentRating(movie.movie_id)));
  group.append(el("span", { class: "value", "aria-hidden": "true" }));
  paint(group, currentRating(movie.movie_id));
  return group;
}

function currentRating(movieId) {
  const entry = state.ratings.get(movieId);
  return entry ? entry.rating : null;
}

function paint(group, value, preview = false) {
  for (const input of group.querySelectorAll("input")) {
    const v = Number(input.value);
    input.parentElement.classList.toggle("on", value !== null && v <= value + 1e-9);
    if (!preview) input.checked = value !== null && Math.abs(v - value) < 1e-9;
  }
  group.classList.toggle("preview", preview);
  group.querySelector(".value").textContent = value === null ? "rate" : fmtRating(value);
}

function repaintStars(movieId) {
  for (const group of document.querySelectorAll(`.stars[data-movie-id="${movieId}"]`)) {
    paint(group, currentRating(movieId));
  }
}

// ------------------------------------------------------------------ cards
function card(movie, { reason = null, small = false } = {}) {
  remember(movie);
  const title = el("button", { type: "button", class: "title-btn", textContent: titleOf(movie),
                               "aria-label": `${titleOf(movie)}: details` });
  title.addEventListener("click", () => openMovie(movie));
  const node = el("article", { class: small ? "card small" : "card",
                               data: { movieId: String(movie.movie_id) } },
                  el("h3", {}, title));
  const meta = el("p", { class: "meta" });
  if (movie.year) meta.append(el("span", { class: "year", textContent: String(movie.year) }));
  const genres = (movie.genres || []).join(", ");
  if (genres) meta.append(el("span", { class: "genres", textContent: genres + (movie.genres_predicted ? " (predicted)" : "") }));
  node.append(meta);
  if (typeof movie.like_probability === "number") {
    node.append(el("p", { class: "match", textContent: percent(movie.like_probability) }));
  }
  if (reason) node.append(el("p", { class: "reason", textContent: reason }));
  node.append(stars(movie, `Your rating for ${titleOf(movie)}`));
  return node;
}

// ------------------------------------------------------------------ ratings
function ratingsPath(id) { return `/users/${id}/ratings`; }

let visitorPending = null;  // one POST /users however fast the first ratings come

function ensureVisitor() {
  if (state.visitor !== null) return Promise.resolve(state.visitor);
  if (!visitorPending) {
    visitorPending = newVisitor().finally(() => { visitorPending = null; });
  }
  return visitorPending;
}

async function newVisitor() {
  const body = await postJSON("/users", {});
  state.visitor = body.user_id;
  save(KEYS.visitor, state.visitor);
  // ratings given before the store existed move into it
  const local = [...state.ratings].map(([movie_id, r]) => ({ movie_id, rating: r.rating }));
  if (local.length) await postJSON(ratingsPath(state.visitor), { ratings: local });
  try { localStorage.removeItem(KEYS.ratings); } catch (_) { /* private mode */ }
  return state.visitor;
}

async function rate(movie, value) {
  remember(movie);
  const previous = state.ratings.get(movie.movie_id);
  state.ratings.set(movie.movie_id, { rating: value, timestamp: Math.floor(Date.now() / 1000) });
  repaintStars(movie.movie_id);
  renderMine();
  try {
    if (state.has.store) {
      const id = await ensureVisitor();
      const body = await postJSON(ratingsPath(id), { ratings: [{ movie_id: movie.movie_id, rating: value }] });
      if (body && (body.ignored_unknown_movies || []).includes(movie.movie_id)) {
        throw new ApiFailure(400, "unknown movie");
      }
    }
    persist();
    renderMine();  // says where the ratings are kept, now that the visitor has an id
    const whose = state.view.user === null ? "" : ` (in your ratings, not user ${state.view.user}'s)`;
    setStatus(`Rated ${titleOf(movie)} ${fmtRating(value)} / ${fmtRating(state.scale[1])}${whose}.`);
    if (state.view.user === null) scheduleRefresh();
  } catch (error) {
    if (previous) state.ratings.set(movie.movie_id, previous); else state.ratings.delete(movie.movie_id);
    repaintStars(movie.movie_id);
    renderMine();
    setStatus(`Your rating of ${titleOf(movie)} could not be saved. Please try again.`, "warn");
  }
}

async function unrate(movieId) {
  const previous = state.ratings.get(movieId);
  if (!previous) return;
  try {
    if (state.has.store && state.visitor !== null) {
      await api(`${ratingsPath(state.visitor)}/${movieId}`, { method: "DELETE" });
    }
    state.ratings.delete(movieId);
    persist();
    repaintStars(movieId);
    renderMine();
    const movie = state.movies.get(movieId);
    setStatus(`Removed your rating of ${movie ? movie.display_title : `movie ${movieId}`}.`);
    if (state.view.user === null) scheduleRefresh();
  } catch (error) {
    setStatus("That rating could not be removed. Please try again.", "warn");
  }
}

function persist() {
  if (!state.has.store || state.visitor === null) {
    save(KEYS.ratings, [...state.ratings].map(([movie_id, r]) => ({ movie_id, ...r })));
  }
  saveMovies();
}

async function loadRatings() {
  for (const [id, movie] of Object.entries(load(KEYS.movies, {}))) state.movies.set(Number(id), movie);
  state.visitor = load(KEYS.visitor, null);
  if (state.has.store && state.visitor !== null) {
    try {
      const body = await api(ratingsPath(state.visitor));
      for (const r of body.ratings || []) {
        state.ratings.set(r.movie_id, { rating: r.rating, timestamp: r.timestamp });
      }
    } catch (error) {
      setStatus("Your stored ratings could not be read just now.", "warn");
    }
  } else {
    for (const r of load(KEYS.ratings, [])) {
      if (r && Number.isInteger(r.movie_id) && typeof r.rating === "number") {
        state.ratings.set(r.movie_id, { rating: r.rating, timestamp: r.timestamp });
      }
    }
  }
  // titles of rated movies this browser has not seen yet (another device, a cleared cache)
  const missing = [...state.ratings.keys()].filter((id) => !state.movies.has(id)).slice(0, 50);
  await Promise.all(missing.map((id) => api(`/movies/${id}`).then(remember).catch(() => null)));
  saveMovies();
}

function renderMine() {
  const list = $("my-ratings");
  const entries = [...state.ratings].sort((a, b) => (b[1].timestamp || 0) - (a[1].timestamp || 0));
  list.replaceChildren(...entries.map(([id, r]) => {
    const movie = state.movies.get(id) || { display_title: `Movie ${id}`, year: null };
    const full = { movie_id: id, ...movie };
    const open = el("button", { type: "button", class: "title-btn", textContent: movie.display_title });
    open.addEventListener("click", () => openMovie(full));
    const remove = el("button", { type: "button", class: "ghost remove", textContent: "Remove",
                                  "aria-label": `Remove your rating of ${movie.display_title}` });
    remove.addEventListener("click", () => unrate(id));
    return el("li", { data: { movieId: String(id) } },
              el("div", { class: "mine-title" }, open,
                 movie.year ? el("span", { class: "year", textContent: String(movie.year) }) : null),
              el("div", { class: "mine-row" }, stars(full, `Your rating for ${movie.display_title}`), remove));
  }));
  const n = state.ratings.size;
  $("mine-count").textContent = n ? `(${n})` : "";
  $("mine-empty").hidden = n > 0;
  $("mine-where").textContent = state.has.store
    ? (state.visitor !== null ? `Stored on the server for visitor id ${state.visitor}.` : "")
    : (n ? "Kept in this browser." : "");
}

// ------------------------------------------------------------------ recommendations
function fromYour(n) {
  return n === 1 ? "from your rating" : `from your ${n} ratings`;
}

let refreshTimer = null;
let recommendSeq = 0;
let searchSeq = 0;

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => recommend(), 500);
}

async function recommend(event) {
  if (event) event.preventDefault();
  clearTimeout(refreshTimer);
  const typed = $("user-id").value.trim();
  if (typed && !/^(0|[1-9][0-9]{0,9})$/.test(typed)) {
    setStatus("A user id is a whole number such as 1 or 414.", "warn");
    return;
  }
  state.view.user = typed ? Number(typed) : null;
  const seq = ++recommendSeq;  // a slower, older answer must not replace a newer one
  const filters = describeFilters();
  const params = filterParams();
  params.set("k", "10");
  setStatus("Loading…");
  try {
    let body, who;
    if (state.view.user !== null) {
      body = await api(`/recommend/${state.view.user}?${params}`);
      const known = document.querySelector(`#known-users option[value="${state.view.user}"]`);
      who = body.fallback ? `User ${state.view.user} is new to reco: popular titles`
        : `for user ${state.view.user}${known ? ` (${known.dataset.count} ratings)` : ""}`;
      $("recs-title").textContent = body.fallback ? "Popular titles" : `Recommendations for user ${state.view.user}`;
    } else if (state.has.store && state.visitor !== null) {
      body = await api(`/recommend/${state.visitor}?${params}`);
      who = body.fallback ? (state.ratings.size ? "popular titles"
        : "popular titles: rate a few to make them yours") : fromYour(state.ratings.size);
    } else if (state.ratings.size) {
      const ratings = [...state.ratings].map(([movie_id, r]) => ({ movie_id, rating: r.rating }));
      body = await postJSON(`/recommend?${params}`, { ratings });
      who = body.fallback ? "none of your titles is known yet: popular titles" : fromYour(ratings.length);
    } else {
      body = await api(`/recommend/${POPULAR_ID}?${params}`);
      who = "popular titles: rate a few to make them yours";
    }
    if (seq !== recommendSeq) return;
    if (state.view.user === null) {
      $("recs-title").textContent = body.fallback ? "Popular titles" : "Recommended for you";
    }
    $("results").replaceChildren(...body.items.map((m) => card(m, { reason: m.reason })));
    document.body.dataset.lists = String(Number(document.body.dataset.lists || 0) + 1);
    const filtered = filters.length ? ` Filters: ${filters.join(", ")}.` : "";
    if (!body.items.length) {
      setStatus(`No title matches these filters.${filtered}${statusSuffix()}`, "warn");
    } else {
      const head = state.view.user !== null && !body.fallback
        ? `${body.items.length} recommendations ${who}.` : `${body.items.length} recommendations, ${who}.`;
      setStatus(`${head}${filtered}${statusSuffix()}`);
    }
  } catch (error) {
    if (seq !== recommendSeq) return;
    setStatus("Recommendations could not be loaded just now. Please try again.", "warn");
  }
}

// ------------------------------------------------------------------ search
async function search(event) {
  if (event) event.preventDefault();
  const query = $("search").value.trim();
  if (!query) return;
  state.query = query;
  const seq = ++searchSeq;
  try {
    const body = await api(`/movies?${new URLSearchParams({ q: query, limit: "20" })}`);
    if (seq !== searchSeq) return;
    let items = body.items;
    let hidden = 0;
    if (familyOn()) {  // /movies takes no family filter: the flag is on every movie
      const kept = items.filter((m) => typeof m.family === "number" && m.family >= FAMILY_THRESHOLD);
      hidden = items.length - kept.length;
      items = kept;
    }
    $("search-title").textContent = `Titles matching “${query}”`;
    $("search-results").replaceChildren(...items.map((m) => card(m, {
      reason: m.n_ratings ? `${m.n_ratings.toLocaleString("en")} ratings` : "not rated yet" })));
    if ($("search-panel").hidden) {
      $("search-panel").hidden = false;
      $("search-panel").scrollIntoView({ block: "start" });  // on phones it sits below the controls
    }
    const note = hidden ? ` ${hidden} hidden by family mode.` : "";
    setStatus((items.length ? `${items.length} titles match “${query}”.` : `No title matches “${query}”.`)
              + note + statusSuffix());
  } catch (error) {
    setStatus("Search is unavailable just now. Please try again.", "warn");
  }
}

function closeSearch() {
  $("search-panel").hidden = true;
  state.query = "";
  $("search").value = "";
  $("search").focus();
}

// ------------------------------------------------------------------ movie panel
async function openMovie(movie) {
  const id = movie.movie_id;
  state.panelMovie = movie;
  const dialog = $("movie-panel");
  $("mp-title").textContent = titleOf(movie);
  $("mp-meta").replaceChildren();
  $("mp-stats").textContent = "";
  $("mp-match").hidden = true;
  $("mp-why-box").hidden = true;
  $("mp-similar").replaceChildren();
  $("mp-rate").replaceChildren(el("span", { class: "hint", textContent: "Your rating: " }),
                               stars(movie, `Your rating for ${titleOf(movie)}`));
  if (!dialog.open) dialog.showModal();
  if (typeof movie.like_probability === "number") showMatch(movie.like_probability);
  const tasks = [
    api(`/movies/${id}`).then((full) => {
      remember(full);
      $("mp-title").textContent = titleOf(full);
      const meta = [];
      if (full.year) meta.push(el("span", { class: "year", textContent: String(full.year) }));
      if ((full.genres || []).length) meta.push(el("span", { class: "genres", textContent: full.genres.join(", ") }));
      $("mp-meta").replaceChildren(...meta);
      $("mp-stats").textContent = typeof full.rating_mean === "number"
        ? `Average rating ${fmtRating(full.rating_mean.toFixed(1))} / ${fmtRating(state.scale[1])} from ${full.n_ratings.toLocaleString("en")} ratings`
        : (full.n_ratings ? `${full.n_ratings.toLocaleString("en")} ratings` : "Not rated by anyone yet");
    }).catch(() => { $("mp-stats").textContent = ""; }),
    loadSimilar(id),
  ];
  const user = state.view.user !== null ? state.view.user : state.visitor;
  if (state.has.pair && user !== null) tasks.push(loadWhy(user, id));
  await Promise.all(tasks);
}

function showMatch(p) {
  $("mp-match").textContent = percent(p);
  $("mp-match").hidden = false;
}

async function loadSimilar(id) {
  try {
    const params = filterParams({ genres: false });
    params.set("k", "6");
    const body = await api(`/similar/${id}?${params}`);
    $("mp-similar").replaceChildren(...body.items.map((m) => card(m, { small: true })));
    if (!body.items.length) $("mp-similar").append(el("p", { class: "hint", textContent: "No similar title" + (familyOn() ? " in family mode." : ".") }));
  } catch (error) {
    $("mp-similar").replaceChildren(el("p", { class: "hint", textContent: "Similar titles are unavailable just now." }));
  }
}

async function loadWhy(user, id) {
  try {
    const body = await api(`/users/${user}/movies/${id}`);
    if (typeof body.like_probability === "number") showMatch(body.like_probability);
    const reasons = (body.explanation || []).map((e) => ({
      text: e.phrase ?? e.text ?? e.reason, weight: Number(e.contribution ?? e.weight ?? 0) }))
      .filter((e) => typeof e.text === "string" && e.text)
      .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight)).slice(0, 4);
    $("mp-why").replaceChildren(...reasons.map((r) => el("li", { class: r.weight >= 0 ? "up" : "down" },
      el("span", { class: "sign", "aria-label": r.weight >= 0 ? "raises the match" : "lowers the match",
                   textContent: r.weight >= 0 ? "▲" : "▼" }), ` ${r.text}`)));
    if (typeof body.predicted_rating === "number") {
      $("mp-why").append(el("li", { class: "hint", textContent: `Predicted rating ${fmtRating(body.predicted_rating.toFixed(1))}` }));
    }
    $("mp-why-box").hidden = !reasons.length;
  } catch (error) {
    $("mp-why-box").hidden = true;  // a user the model does not know yet: no explanation
  }
}

// ------------------------------------------------------------------ operator
async function loadStats() {
  const box = $("stats");
  try {
    box.replaceChildren(...statsTables(await api("/stats")));
  } catch (error) {
    box.replaceChildren(el("p", { class: "hint", textContent: "Figures unavailable just now." }));
  }
}

function statsTables(body) {
  // field names may change: numbers are shown as found, one row per object of a list
  const out = [];
  const scalars = Object.entries(body).filter(([, v]) => typeof v === "number");
  if (scalars.length) {
    out.push(el("table", { class: "stats" }, ...scalars.map(([k, v]) =>
      el("tr", {}, el("th", { scope: "row", textContent: k.replaceAll("_", " ") }), el("td", { textContent: fmtNumber(v) })))));
  }
  for (const [key, value] of Object.entries(body)) {
    const rows = Array.isArray(value) ? value : (value && typeof value === "object" ? Object.entries(value).map(([name, v]) => ({ name, ...(typeof v === "object" ? v : { value: v }) })) : null);
    if (!rows || !rows.length || typeof rows[0] !== "object") continue;
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r).filter((c) => typeof r[c] === "number" || r[c] === null)))];
    const label = Object.keys(rows[0]).find((c) => typeof rows[0][c] === "string");
    const head = el("tr", {}, ...(label ? [label] : []).concat(columns).map((c) => el("th", { scope: "col", textContent: c.replaceAll("_", " ") })));
    const lines = rows.map((r) => el("tr", {}, ...(label ? [el("th", { scope: "row", textContent: String(r[label]) })] : []),
      ...columns.map((c) => el("td", { textContent: r[c] === null || r[c] === undefined ? "–" : fmtNumber(r[c]) }))));
    out.push(el("p", { class: "hint", textContent: key.replaceAll("_", " ") }),
             el("div", { class: "table-wrap" }, el("table", { class: "stats" }, head, ...lines)));
  }
  if (!out.length) out.push(el("p", { class: "hint", textContent: "No figures yet." }));
  return out;
}

function fmtNumber(v) {
  return Number.isInteger(v) ? v.toLocaleString("en") : String(Math.round(v * 1000) / 1000);
}

// ------------------------------------------------------------------ start
function readSpec(spec) {
  const paths = spec.paths || {};
  const params = ((paths["/recommend/{user}"] || {}).get || {}).parameters || [];
  const genre = params.find((p) => p.name === "genre");
  state.genres = (genre && genre.schema.items && genre.schema.items.enum) || [];
  state.family = params.some((p) => p.name === "family");
  const schemas = (spec.components || {}).schemas || {};
  const ratings = (((schemas.Ratings || {}).properties || {}).ratings || {}).oneOf;
  const rating = ratings && ratings[0].items.properties.rating;
  if (rating && typeof rating.minimum === "number") state.scale = [rating.minimum, rating.maximum];
  const names = Object.keys(paths);
  const has = (re, method) => names.some((p) => re.test(p) && paths[p][method]);
  state.has.users = has(/^\/users$/, "get");
  state.has.store = has(/^\/users$/, "post") && has(/^\/users\/\{[^}]+\}\/ratings$/, "post")
    && has(/^\/users\/\{[^}]+\}\/ratings$/, "get");
  state.has.pair = has(/^\/users\/\{[^}]+\}\/movies\/\{[^}]+\}$/, "get");
  state.has.stats = has(/^\/stats$/, "get");
}

function buildFilters() {
  const box = $("genres");
  box.append(...state.genres.map((g) => el("label", { class: "chip" },
    el("input", { type: "checkbox", value: g, name: "genre" }), el("span", { textContent: g }))));
  $("family-row").hidden = !state.family;
  if (!state.family) $("family").checked = false;
  $("filters").open = window.matchMedia("(min-width: 900px)").matches;
}

async function loadUsers() {
  if (!state.has.users) return;
  try {
    const body = await api("/users?limit=20");
    const group = $("known-users");
    group.replaceChildren(...body.users.map((u) => {
      const option = new Option(`User ${u.user_id} · ${u.n_ratings.toLocaleString("en")} ratings`, String(u.user_id));
      option.dataset.count = u.n_ratings.toLocaleString("en");
      return option;
    }));
    group.hidden = !body.users.length;
    $("users-hint").textContent = `${body.users.length} of ${body.total.toLocaleString("en")} known users listed.`;
  } catch (error) {
    $("users-hint").textContent = "";
  }
}

function wire() {
  $("user-form").addEventListener("submit", recommend);
  $("user-pick").addEventListener("change", () => { $("user-id").value = $("user-pick").value; recommend(); });
  $("user-id").addEventListener("input", () => {
    const match = document.querySelector(`#user-pick option[value="${CSS.escape($("user-id").value)}"]`);
    $("user-pick").value = match ? match.value : "";
  });
  $("search-form").addEventListener("submit", search);
  $("search-close").addEventListener("click", closeSearch);
  $("genres").addEventListener("change", () => recommend());
  for (const id of ["year-min", "year-max"]) $(id).addEventListener("change", () => recommend());
  $("clear-filters").addEventListener("click", () => {
    for (const box of document.querySelectorAll("#genres input")) box.checked = false;
    $("year-min").value = ""; $("year-max").value = "";
    recommend();
  });
  $("family").addEventListener("change", async () => {
    await recommend();
    if (state.query) await search();  // its line last: it says what family mode hid
    if ($("movie-panel").open && state.panelMovie) loadSimilar(state.panelMovie.movie_id);
  });
  $("mp-close").addEventListener("click", () => $("movie-panel").close());
  $("movie-panel").addEventListener("click", (event) => {  // a click on the backdrop closes it
    if (event.target === $("movie-panel")) $("movie-panel").close();
  });
  $("operator").addEventListener("toggle", () => { if ($("operator").open) loadStats(); });
}

async function start() {
  wire();
  try {
    readSpec(await api("/openapi.json"));
  } catch (error) {
    setStatus("reco is starting up or unavailable. Please reload in a moment.", "warn");
    return;
  }
  buildFilters();
  $("operator").hidden = !state.has.stats;
  await Promise.all([loadUsers(), loadRatings()]);
  if (state.has.store && state.visitor === null) {
    // an id from the first visit, so the lists served to this visitor are the ones their
    // ratings follow in GET /stats (without one: popular titles for an id nobody has)
    await ensureVisitor().catch(() => null);
  }
  renderMine();
  await recommend();
  document.body.dataset.ready = "true";  // for tests: the first list is on the page
}

start();
