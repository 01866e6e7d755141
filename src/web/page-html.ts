/**
 * The try-it page served at GET /: pick photos, enroll, verify or search through the JSON Web
 * API, and see each image with the eye positions the service found and its quality checks.
 * Self-contained (no external scripts, fonts or styles); the token is pasted by the user and
 * kept only in the page's memory.
 */
export const pageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>facevault</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 980px; padding: 1rem; color: #1d2330; }
  h1 { font-size: 1.4rem; margin: .2rem 0 1rem; }
  fieldset { border: 1px solid #ccd; border-radius: 8px; margin: 0 0 1rem; }
  label { display: inline-block; margin: .3rem 1rem .3rem 0; }
  input[type=text] { width: 38rem; max-width: 100%; font-family: monospace; }
  input[type=number] { width: 14rem; }
  button { font: inherit; padding: .35rem .9rem; margin-right: .5rem; border-radius: 6px; border: 1px solid #889; background: #f4f5fb; cursor: pointer; }
  .result { display: flex; flex-wrap: wrap; gap: 1rem; margin: 1rem 0; }
  .card { border: 1px solid #ccd; border-radius: 8px; padding: .6rem; width: 300px; }
  canvas { width: 100%; border-radius: 4px; background: #eee; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  td { border-top: 1px solid #eee; padding: 2px 4px; vertical-align: top; }
  .ok { color: #176b2c; } .bad { color: #a11; font-weight: 600; }
  pre { background: #f6f7fa; padding: .6rem; border-radius: 6px; overflow: auto; max-height: 24rem; font-size: 12px; }
  #summary { font-weight: 600; }
</style>
</head>
<body>
<h1>facevault: try the JSON Web API</h1>
<fieldset>
  <label>Bearer token <input id="token" type="text" placeholder="paste the output of: npm run token"></label><br>
  <label>Class id <input id="classId" type="number" min="1" value="1"></label>
  <label>Photos <input id="files" type="file" accept="image/*" multiple></label><br>
  <button id="enroll">Enroll</button><button id="verify">Verify (first photo)</button><button id="search">Search</button><button id="status">Template status</button><button id="delete">Delete template</button>
</fieldset>
<div id="summary"></div>
<div class="result" id="cards"></div>
<pre id="raw"></pre>
<script>
const $ = (id) => document.getElementById(id);
const files = () => Array.from($("files").files || []);
const readDataUrl = (f) => new Promise((ok, fail) => { const r = new FileReader(); r.onload = () => ok(r.result); r.onerror = fail; r.readAsDataURL(f); });

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + $("token").value.trim() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => ({}));
  return { status: res.status, json, jobId: res.headers.get("jobid") };
}

function summary(text, bad) { $("summary").textContent = text; $("summary").className = bad ? "bad" : "ok"; }

async function show(res, images) {
  $("raw").textContent = "HTTP " + res.status + "  jobid " + res.jobId + "\\n" + JSON.stringify(res.json, null, 2);
  $("cards").innerHTML = "";
  const props = res.json.imageProperties ? [].concat(res.json.imageProperties) : [];
  for (let i = 0; i < images.length; i++) await card(images[i], props[i], i);
}

async function card(dataUrl, p, i) {
  const div = document.createElement("div"); div.className = "card";
  const canvas = document.createElement("canvas"); div.appendChild(canvas);
  const img = new Image(); img.src = dataUrl; await img.decode();
  // Coordinates refer to the image turned clockwise by "rotated" degrees: draw it that way.
  const rot = (p && p.rotated) || 0, turn = rot === 90 || rot === 270;
  canvas.width = turn ? img.naturalHeight : img.naturalWidth; canvas.height = turn ? img.naturalWidth : img.naturalHeight;
  const g = canvas.getContext("2d");
  g.save(); g.translate(canvas.width / 2, canvas.height / 2); g.rotate(rot * Math.PI / 180);
  g.drawImage(img, -img.naturalWidth / 2, -img.naturalHeight / 2); g.restore();
  const r = Math.max(3, canvas.width / 120);
  for (const f of (p && p.faces) || []) {
    for (const [eye, color] of [[f.leftEye, "#e33"], [f.rightEye, "#23e"]]) {
      if (!eye) continue;
      g.beginPath(); g.arc(eye.x, eye.y, r, 0, 2 * Math.PI); g.lineWidth = r / 2; g.strokeStyle = color; g.stroke();
    }
  }
  const t = document.createElement("table");
  const head = "<tr><td colspan=3><b>image " + i + "</b>: " + (((p && p.faces) || []).length) + " face(s), rotated " + rot + "°, quality " + (p ? Number(p.qualityScore || 0).toFixed(2) : "-") + " <span style='color:#e33'>●</span> left eye <span style='color:#23e'>●</span> right eye</td></tr>";
  t.innerHTML = head + ((p && p.qualityAssessments) || []).map((q) =>
    "<tr><td class=" + (q.score >= 0.5 ? "ok" : "bad") + ">" + q.check + "</td><td>" + Number(q.score).toFixed(2) + "</td><td>" + q.message.replace(/</g, "&lt;") + "</td></tr>").join("");
  div.appendChild(t); $("cards").appendChild(div);
}

$("enroll").onclick = async () => {
  const images = await Promise.all(files().map(readDataUrl));
  const res = await api("POST", "/api/face/v1/enroll/" + $("classId").value, images.map((image) => ({ image })));
  summary(res.status === 200 ? res.json.performedAction + ": " + res.json.enrolledImages + " image(s) enrolled" + (res.json.errors.length ? "; " + res.json.errors.map((e) => e.errorCode).join(", ") : "") : res.json.message, res.status !== 200 || res.json.performedAction === "ENROLLMENT_FAILED");
  await show(res, images);
};
$("verify").onclick = async () => {
  const images = (await Promise.all(files().map(readDataUrl))).slice(0, 1);
  const res = await api("POST", "/api/face/v1/verify/" + $("classId").value, { image: images[0] || "" });
  summary(res.status === 200 ? (res.json.verified ? "verified" : "not verified") + ", score " + Number(res.json.score).toFixed(3) : res.json.message, res.status !== 200 || !res.json.verified);
  await show(res, images);
};
$("search").onclick = async () => {
  const images = await Promise.all(files().map(readDataUrl));
  const res = await api("POST", "/api/face/v1/search", { images: images.map((image) => ({ image })), tags: [], topMatches: true });
  summary(res.status === 200 ? res.json.result.map((r, i) => "image " + i + ": " + (r.matches.map((m) => "class " + m.classId + " (" + m.score.toFixed(3) + ")").join(", ") || "no match")).join("; ") : res.json.message, res.status !== 200);
  await show(res, images);
};
$("status").onclick = async () => {
  const res = await api("GET", "/api/face/v1/template/status/" + $("classId").value + "?downloadThumbnails=true");
  summary(res.status === 200 ? (res.json.available ? "template with " + res.json.featureVectors + " feature vector(s), encoder " + res.json.encoderVersion : "no template") : res.json.message, res.status !== 200);
  await show(res, (res.json.thumbnails || []).map((t) => "data:image/png;base64," + t.image));
};
$("delete").onclick = async () => {
  const res = await api("DELETE", "/api/face/v1/template/" + $("classId").value);
  summary(res.status === 200 ? "deleted" : res.json.message, res.status !== 200);
  await show(res, []);
};
</script>
</body>
</html>
`;
