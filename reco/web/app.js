"use strict";
const $ = (id) => document.getElementById(id);

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body;
}

function card(movie, extra) {
  const node = document.createElement("article");
  node.className = "card";
  node.dataset.movieId = movie.movie_id;
  const title = document.createElement("h3");
  title.textContent = movie.title;
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = [movie.year, (movie.genres || []).join(", ")].filter(Boolean).join(" · ");
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
    $("results").replaceChildren(...body.items.map((m) => card(m, `${m.n_ratings} ratings`)));
    setStatus(body.items.length ? `${body.items.length} titles match “${query}”.` : `No title matches “${query}”.`);
  } catch (error) {
    setStatus(error.message, true);
  }
}

$("user-form").addEventListener("submit", recommend);
$("search-form").addEventListener("submit", search);
$("family").addEventListener("change", () => { if ($("user-id").value) recommend(); });
