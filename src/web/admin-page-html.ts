/**
 * The admin page served at GET /admin: partitions, their templates (tags, counts, thumbnails on
 * request) and the call log with filters, all through the admin API's REST routes on the same
 * origin. Self-contained; the admin key is pasted by the user and kept only in the page's
 * memory. Every value from the server is put in the page as text, never as HTML.
 */
export const adminPageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>facevault admin</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1rem; color: #1d2330; }
  h1 { font-size: 1.35rem; margin: .2rem 0 1rem; } h2 { font-size: 1.1rem; margin: 1.2rem 0 .4rem; }
  fieldset { border: 1px solid #ccd; border-radius: 8px; margin: 0 0 .8rem; }
  label { display: inline-block; margin: .25rem .8rem .25rem 0; }
  input { font: inherit; } input.key { width: 28rem; max-width: 100%; font-family: monospace; }
  button { font: inherit; padding: .25rem .8rem; margin-right: .4rem; border-radius: 6px; border: 1px solid #889; background: #f4f5fb; cursor: pointer; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th { text-align: left; border-bottom: 2px solid #ccd; padding: 3px 6px; }
  td { border-top: 1px solid #eee; padding: 3px 6px; vertical-align: top; }
  tr.pick { cursor: pointer; } tr.pick:hover, tr.chosen { background: #eef1fb; }
  img.thumb { width: 72px; height: 72px; object-fit: cover; border-radius: 4px; margin-right: 4px; }
  .bad { color: #a11; font-weight: 600; } .muted { color: #667; }
</style>
</head>
<body>
<h1>facevault admin</h1>
<fieldset>
  <label>Admin key <input id="key" class="key" type="password" autocomplete="off" placeholder="one of the config's admins[].key"></label>
  <button id="load">Load</button> <span id="message"></span>
</fieldset>

<h2>Partitions</h2>
<table id="partitions"><thead><tr><th>storage</th><th>partition</th><th>templates</th><th>feature vectors</th><th>thumbnails</th><th>revision</th></tr></thead><tbody></tbody></table>

<h2>Templates <span id="where" class="muted"></span></h2>
<fieldset>
  <label>Tag <input id="tag" type="text"></label>
  <button id="filter">Filter</button><button id="more">Next page</button>
  <span id="total" class="muted"></span>
</fieldset>
<table id="templates"><thead><tr><th>class id</th><th>tags</th><th>encoder</th><th>enrolled</th><th>vectors</th><th>thumbnails</th><th></th></tr></thead><tbody></tbody></table>

<h2>Call log</h2>
<fieldset>
  <label>Method <input id="method" type="text" size="14" placeholder="Enroll"></label>
  <label>Client <input id="client" type="text" size="12"></label>
  <label>Reference <input id="reference" type="text" size="14"></label>
  <label>Outcome <input id="outcome" type="number" min="0" max="16" style="width:4rem"></label>
  <label>From <input id="from" type="datetime-local"></label>
  <label>To <input id="to" type="datetime-local"></label>
  <button id="jobs">Search log</button><button id="moreJobs">Next page</button>
</fieldset>
<table id="log"><thead><tr><th>received</th><th>client</th><th>method</th><th>outcome</th><th>reference</th><th>ms</th><th>images</th><th>action</th><th>job id</th></tr></thead><tbody></tbody></table>

<script>
const $ = (id) => document.getElementById(id);
const state = { storage: "", partition: 0, templateToken: "", jobToken: "" };

async function api(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== "" && v !== undefined) q.set(k, v);
  const qs = q.toString();
  const res = await fetch(path + (qs ? "?" + qs : ""), { headers: { Authorization: "Bearer " + $("key").value.trim() } });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) { say((json.message || "HTTP " + res.status), true); throw new Error(json.message); }
  say("", false);
  return json;
}
function say(text, bad) { $("message").textContent = text; $("message").className = bad ? "bad" : ""; }
function row(table, cells, onclick) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.appendChild(cell); else td.textContent = String(cell);
    tr.appendChild(td);
  }
  if (onclick) { tr.className = "pick"; tr.onclick = () => onclick(tr); }
  $(table).tBodies[0].appendChild(tr);
  return tr;
}
const clear = (table) => { $(table).tBodies[0].replaceChildren(); };
const when = (t) => t ? new Date(t).toISOString().replace("T", " ").slice(0, 19) : "";
const iso = (local) => local ? new Date(local).toISOString() : "";
const base = () => "/api/admin/v1/storages/" + encodeURIComponent(state.storage) + "/partitions/" + state.partition + "/templates";

async function loadPartitions() {
  const { partitions } = await api("/api/admin/v1/partitions");
  clear("partitions");
  for (const p of partitions) {
    row("partitions", [p.storage, p.partition, p.templates, p.featureVectors, p.thumbnails, p.revision], (tr) => {
      for (const other of $("partitions").tBodies[0].rows) other.classList.remove("chosen");
      tr.classList.add("chosen");
      state.storage = p.storage; state.partition = p.partition;
      loadTemplates(true);
    });
  }
}

async function loadTemplates(first) {
  if (!state.storage) return;
  if (first) { state.templateToken = ""; clear("templates"); }
  $("where").textContent = state.storage + "/" + state.partition;
  const page = await api(base(), { tag: $("tag").value.trim(), pageSize: 50, pageToken: state.templateToken });
  $("total").textContent = page.totalCount + " template(s)";
  state.templateToken = page.nextPageToken;
  $("more").disabled = !page.nextPageToken;
  for (const t of page.templates) {
    const cell = document.createElement("span");
    const button = document.createElement("button");
    button.textContent = "thumbnails"; button.className = "thumbs";
    button.disabled = !t.thumbnailsStored;
    button.onclick = quietly(async () => {
      const details = await api(base() + "/" + t.classId, { includeThumbnails: "true" });
      cell.replaceChildren();
      for (const th of details.thumbnails) {
        const img = document.createElement("img");
        img.className = "thumb"; img.alt = "thumbnail of class " + t.classId; img.src = "data:image/png;base64," + th.image;
        cell.appendChild(img);
      }
    });
    cell.appendChild(button);
    row("templates", [t.classId, t.tags.join(", "), t.encoderVersion, when(t.enrolled), t.featureVectors, t.thumbnailsStored, cell]);
  }
}

async function loadJobs(first) {
  if (first) { state.jobToken = ""; clear("log"); }
  const page = await api("/api/admin/v1/jobs", {
    method: $("method").value.trim(), clientId: $("client").value.trim(), referenceNumber: $("reference").value.trim(),
    outcome: $("outcome").value, receivedAfter: iso($("from").value), receivedBefore: iso($("to").value),
    pageSize: 100, pageToken: state.jobToken,
  });
  state.jobToken = page.nextPageToken;
  $("moreJobs").disabled = !page.nextPageToken;
  for (const j of page.jobs) {
    const outcome = document.createElement("span");
    outcome.textContent = j.outcome; if (j.outcome !== 0) outcome.className = "bad";
    row("log", [when(j.received), j.clientId || "(none)", j.method, outcome, j.referenceNumber, Number(j.durationMs).toFixed(1), j.imageCount, j.performedAction, j.jobId]);
  }
}

// A failed call has already said why on the page (api): nothing more to do with its error.
const quietly = (action) => () => action().catch(() => undefined);
$("load").onclick = quietly(async () => { await loadPartitions(); await loadJobs(true); });
$("filter").onclick = quietly(() => loadTemplates(true));
$("more").onclick = quietly(() => loadTemplates(false));
$("jobs").onclick = quietly(() => loadJobs(true));
$("moreJobs").onclick = quietly(() => loadJobs(false));
</script>
</body>
</html>
`;
