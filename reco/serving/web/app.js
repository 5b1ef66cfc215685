"use strict";
const $ = (id) => document.getElementById(id);

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

const myRatings = new Map();  // movie id -> rating, for POST /recommend

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body;
}

function rateControl(movie) {
  const select = document.createElement("select");
  select.className = "rate";
  select.setAttribute("aria-label", `Rate ${movie.title}`);
  for (const [value, label] of [["", "rate…"], ["5", "★★★★★"], ["4", "★★★★"], ["3", "★★★"], ["2", "★★"], ["1", "★"]]) {
    select.append(new Option(label, value));
  }
  select.value = myRatings.has(movie.movie_id) ? String(myRatings.get(movie.movie_id)) : "";
  select.addEventListener("change", () => {
    if (select.value) myRatings.set(movie.movie_id, Number(select.value));
    else myRatings.delete(movie.movie_id);
    $("mine-count").textContent = `${myRatings.size} rated`;
    $("mine-btn").disabled = myRatings.size === 0;
  });
  return select;
}

function card(movie, extra, rateable = false) {
  const node = document.createElement("article");
  node.className = "card";
  node.dataset.movieId = movie.movie_id;
  const title = document.createElement("h3");
  title.textContent = movie.title;
  const meta = document.createElement("div");
  meta.className = "meta";
  const genres = (movie.genres || []).join(", ") + (movie.genres_predicted ? " (predicted)" : "");
  meta.textContent = [movie.year, genres].filter(Boolean).join(" · ");
  node.append(title, meta);
  if (extra) {
    const reason = document.createElement("div");
    reason.className = "reason";
    reason.textContent = extra;
    node.append(reason);
  }
  const more = document.createElement("button");
  more.className = "link similar-btn";
  more.type = "button";
  more.textContent = "Similar titles";
  more.addEventListener("click", () => showSimilar(movie.movie_id, movie.title));
  node.append(more);
  if (rateable) node.append(rateControl(movie));
  return node;
}

function familyParam() {
  return $("family").checked ? "&family=true" : "";
}

async function recommend(event) {
  if (event) event.preventDefault();
  const user = $("user-id").value.trim();
  if (!user) return;
  setStatus("Loading…");
  try {
    const body = await getJSON(`/recommend/${encodeURIComponent(user)}?k=10${familyParam()}`);
    const results = $("results");
    results.replaceChildren(...body.items.map((m) => card(m, m.reason)));
    setStatus(body.fallback ? `User ${user} is new to reco: popular titles.` :
      `${body.items.length} recommendations for user ${user}.`);
  } catch (error) {
    setStatus(error.message, true);
  }
}

async function showSimilar(movieId, title) {
  setStatus(`Finding titles like ${title}…`);
  try {
    const body = await getJSON(`/similar/${movieId}?k=10${familyParam()}`);
    $("similar-title").textContent = `Similar to ${body.movie.title}`;
    $("similar").replaceChildren(...body.items.map((m) => card(m, `similarity ${m.score.toFixed(2)}`)));
    $("similar-panel").hidden = false;
    $("similar-panel").scrollIntoView({ behavior: "smooth" });
    setStatus("");
  } catch (error) {
    setStatus(error.message, true);
  }
}

async function search(event) {
  event.preventDefault();
  const query = $("search").value.trim();
  if (!query) return;
  try {
    const body = await getJSON(`/movies?q=${encodeURIComponent(query)}&limit=20`);
    $("results").replaceChildren(...body.items.map((m) => card(m, `${m.n_ratings} ratings`, true)));
    setStatus(body.items.length ? `${body.items.length} titles match “${query}”.` : `No title matches “${query}”.`);
  } catch (error) {
    setStatus(error.message, true);
  }
}

async function recommendMine() {
  if (myRatings.size === 0) return;
  setStatus("Loading…");
  const ratings = [...myRatings].map(([movie_id, rating]) => ({ movie_id, rating }));
  try {
    const body = await getJSON(`/recommend?k=10${familyParam()}`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ratings }),
    });
    $("results").replaceChildren(...body.items.map((m) => card(m, m.reason)));
    setStatus(body.fallback ? "None of your titles is known yet: popular titles." :
      `${body.items.length} recommendations from your ${ratings.length} ratings.`);
  } catch (error) {
    setStatus(error.message, true);
  }
}

$("mine-btn").addEventListener("click", recommendMine);
$("user-form").addEventListener("submit", recommend);
$("search-form").addEventListener("submit", search);
$("family").addEventListener("change", () => { if ($("user-id").value) recommend(); });
