/* The page: send one post to POST /v1/gmner, draw the answer over the image, list the entities.
   The answer is streamed (Server-Sent Events, see gateway/streaming.py): the entities are listed as soon as
   NER answers, then expressions, groundability, boxes and masks fill in as each stage answers. */
(function () {
  "use strict";

  // Same colours, in the same order, as gateway/overlay.py's PALETTE: entity i has colour i in both.
  const PALETTE = [
    [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
    [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
  ];
  const MASK_ALPHA = 110 / 255;
  const REASONS = {
    not_requested: "not requested for this task",
    no_image: "no image sent",
    not_groundable: "not in the image",
    not_found: "no region found",
    stage_failed: "a stage failed",
    visual_stages_not_deployed: "visual stages not deployed",
  };

  const $ = (id) => document.getElementById(id);
  const form = $("post-form");
  const textInput = $("text");
  const fileInput = $("image");
  const dropZone = $("drop-zone");
  const previewBox = $("preview-box");
  const preview = $("preview");
  const fileName = $("file-name");
  const submitButton = $("submit");
  const statusLine = $("status");
  const errorBox = $("error");
  const result = $("result");
  const canvas = $("overlay");
  const noImage = $("no-image");
  const tbody = document.querySelector("#entities tbody");
  const summary = $("summary");

  const keyBox = $("api-key-box");
  const keyInput = $("api-key");
  const KEY_STORE = "gmner-api-key";
  // Per tab: a key typed on a shared computer does not outlive the tab.
  keyInput.value = sessionStorage.getItem(KEY_STORE) || "";
  if (keyInput.value) keyBox.hidden = false;

  let chosenFile = null;
  let previewUrl = null;
  // The image of the answer being shown, decoded once per post (each streamed event redraws over it).
  let shownFile = null;
  let shownImage = null;
  // What the canvas shows: the image, the entities and their decoded masks (as coloured offscreen canvases).
  let scene = null;
  let pinned = null; // a row clicked stays highlighted until clicked again
  let hovered = null;

  function colour(i, alpha) {
    const c = PALETTE[i % PALETTE.length];
    return alpha === undefined ? `rgb(${c[0]}, ${c[1]}, ${c[2]})` : `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${alpha})`;
  }

  /* ---------- choosing an image ---------- */

  function setFile(file) {
    chosenFile = file || null;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    if (!chosenFile) {
      previewBox.hidden = true;
      preview.removeAttribute("src");
      fileInput.value = "";
      return;
    }
    fileName.textContent = `${chosenFile.name} (${formatBytes(chosenFile.size)})`;
    previewBox.hidden = false;
    previewUrl = URL.createObjectURL(chosenFile);
    preview.hidden = false;
    preview.src = previewUrl;
  }

  preview.addEventListener("error", () => {
    // Not something the browser can show; the server will say what is wrong with it if it is sent.
    preview.hidden = true;
    fileName.textContent = `${chosenFile ? chosenFile.name : "file"}: no preview (is it an image?)`;
  });

  fileInput.addEventListener("change", () => setFile(fileInput.files && fileInput.files[0]));
  $("clear-image").addEventListener("click", (event) => {
    event.stopPropagation();
    setFile(null);
  });
  dropZone.addEventListener("click", (event) => {
    if (event.target !== fileInput) fileInput.click();
  });
  dropZone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      fileInput.click();
    }
  });
  ["dragenter", "dragover"].forEach((type) =>
    dropZone.addEventListener(type, (event) => {
      event.preventDefault();
      dropZone.classList.add("dragging");
    })
  );
  ["dragleave", "dragend"].forEach((type) =>
    dropZone.addEventListener(type, () => dropZone.classList.remove("dragging"))
  );
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropZone.classList.remove("dragging");
    const files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) setFile(files[0]);
  });
  // A file dropped next to the zone would otherwise make the browser leave the page to open it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  /* ---------- sending the post ---------- */

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    hideError();
    const text = textInput.value;
    if (!text.trim()) {
      showError("Type the post's text first.");
      textInput.focus();
      return;
    }
    const body = new FormData();
    body.append("text", text);
    const tasks = form.querySelector('input[name="tasks"]:checked').value;
    body.append("tasks", tasks);
    const caption = $("caption").value.trim();
    if (caption) body.append("caption", caption);
    const knowledge = $("use-knowledge").value;
    if (knowledge) body.append("use_knowledge", knowledge);
    if (chosenFile) body.append("image", chosenFile, chosenFile.name);
    const file = chosenFile;

    setBusy(true);
    try {
      let response;
      try {
        // Streamed; an answer in JSON (an error, or a gateway without streaming) is read as before.
        const headers = { Accept: "text/event-stream, application/json" };
        const key = keyInput.value.trim();
        if (key) {
          headers.Authorization = `Bearer ${key}`;
          sessionStorage.setItem(KEY_STORE, key);
        }
        response = await fetch("/v1/gmner", { method: "POST", body: body, headers: headers });
      } catch (err) {
        showError("Could not reach the service. Is it running? Check the connection and try again.");
        return;
      }
      const type = response.headers.get("Content-Type") || "";
      if (response.ok && type.startsWith("text/event-stream")) {
        await readStream(response, file);
        return;
      }
      let payload = null;
      try {
        payload = await response.json();
      } catch (err) {
        payload = null;
      }
      if (response.status === 401 || response.status === 403) {
        // The gateway requires a key: show the field and ask for one (or a valid one).
        sessionStorage.removeItem(KEY_STORE);
        keyBox.hidden = false;
        keyInput.focus();
      }
      if (!response.ok) {
        showError(describeError(response.status, payload, response.headers.get("Retry-After")), payload);
        return;
      }
      if (!payload || !Array.isArray(payload.entities)) {
        showError("The service answered something this page cannot read.");
        return;
      }
      await showResult(payload, file);
    } finally {
      setBusy(false);
    }
  });

  /* ---------- the streamed answer ---------- */

  async function readStream(response, file) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let partial = null; // the answer so far: entity i is replaced by each event that names index i
    let first = true;
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (err) {
        break;
      }
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        const event = parseEvent(block);
        if (!event) continue; // a keep-alive comment
        let data;
        try {
          data = JSON.parse(event.data);
        } catch (err) {
          continue;
        }
        if (event.name === "final") {
          statusLine.textContent = "";
          await showResult(data, file, true);
          return;
        }
        if (event.name === "error") {
          const status = data && data.error && data.error.code === "stage_unavailable" ? 503 : 500;
          showError(describeError(status, data, null), data);
          return;
        }
        if (!data || !Array.isArray(data.entities)) continue;
        if (event.name === "entities") {
          partial = {
            request_id: response.headers.get("X-Request-ID") || "",
            tasks: form.querySelector('input[name="tasks"]:checked').value,
            entities: [],
            degraded: [],
            timings_ms: {},
          };
        }
        if (!partial) continue;
        data.entities.forEach((entity) => {
          partial.entities[entity.index] = entity;
        });
        if (first) {
          pinned = null;
          hovered = null;
          first = false;
        }
        statusLine.textContent = `Working… ${STAGE_WORDS[event.name] || event.name} received`;
        await showResult(partial, file, false);
      }
    }
    showError("The answer stopped before it was complete (the connection was closed). Try again.");
  }

  const STAGE_WORDS = {
    entities: "entities",
    expressions: "referring expressions",
    groundability: "groundability",
    boxes: "boxes",
    masks: "masks",
  };

  function parseEvent(block) {
    // One Server-Sent Event: `event:` and `data:` lines; lines starting with ':' are comments (pings).
    let name = "message";
    const data = [];
    block.split(/\r?\n/).forEach((line) => {
      if (!line || line.startsWith(":")) return;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    });
    return data.length ? { name: name, data: data.join("\n") } : null;
  }

  function setBusy(busy) {
    submitButton.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
    statusLine.textContent = busy ? "Working… (the first request after start can take a while)" : "";
  }

  function describeError(status, payload, retryAfter) {
    const error = (payload && payload.error) || {};
    const message = error.message || "";
    const stage = error.stage ? ` (${error.stage})` : "";
    const wait = retryAfter && /^\d+$/.test(retryAfter) ? `${retryAfter} second${retryAfter === "1" ? "" : "s"}` : "a moment";
    switch (status) {
      case 400:
        return `The request was refused: ${message || "bad input"}`;
      case 401:
        return "This service needs an API key: enter it in the API key field and try again.";
      case 403:
        return "That API key was not accepted (unknown or revoked). Enter a valid key and try again.";
      case 408:
        return "The upload was too slow and was stopped. Check the connection and try again.";
      case 413:
        return `That is too large: ${message || "the request is over the size limit"}`;
      case 415:
        if (error.code === "not_an_image" || error.code === "unsupported_format") {
          return `That file is not an image the service can read: ${message}`;
        }
        return `Unsupported input: ${message}`;
      case 422:
        return `Please check the input: ${message || "the request is not valid"}`;
      case 429:
        return `The service is busy (too many requests at once). Try again in ${wait}.`;
      case 503:
        return `Part of the service is unavailable${stage}: ${message || "try again later"}. Try again in ${wait}.`;
      default:
        if (status >= 500) return `The service failed unexpectedly (HTTP ${status}${stage}). Try again.`;
        return `The request failed (HTTP ${status}): ${message}`;
    }
  }

  function showError(text, payload) {
    // An earlier answer next to an error about this post would read as this post's answer.
    result.hidden = true;
    errorBox.textContent = "";
    const line = document.createElement("p");
    line.className = "error-message";
    line.textContent = text;
    errorBox.appendChild(line);
    if (payload && payload.error && payload.error.code) {
      const code = document.createElement("p");
      code.className = "hint";
      code.textContent = `code: ${payload.error.code}`;
      errorBox.appendChild(code);
    }
    errorBox.hidden = false;
  }

  function hideError() {
    errorBox.hidden = true;
    errorBox.textContent = "";
  }

  /* ---------- showing the answer ---------- */

  async function showResult(answer, file, final) {
    // `final`: the whole answer; otherwise the answer so far (a streamed event), drawn the same way.
    if (final !== false) window.gmnerLastAnswer = answer; // the raw answer, for the console and the browser test
    if (final === undefined) {
      pinned = null;
      hovered = null;
    }
    scene = null;
    canvas.dataset.state = "pending";
    canvas.dataset.drawn = "0";
    renderTable(answer);
    const visual = answer.tasks !== "mner" || answer.entities.some((e) => e.box || e.mask);
    if (file) {
      const image = await imageOf(file);
      if (image) {
        scene = { image: image, entities: answer.entities, masks: buildMasks(answer.entities) };
        canvas.hidden = false;
        noImage.hidden = true;
        draw();
      } else {
        canvas.hidden = true;
        noImage.hidden = false;
        noImage.textContent = "The browser could not show this image, but the service read it.";
      }
    } else {
      canvas.hidden = true;
      noImage.hidden = false;
      noImage.textContent = visual ? "No image was sent, so nothing is grounded." : "";
    }
    result.hidden = false;
    markRows();
    canvas.dataset.state = final === false ? "partial" : "ready";
  }

  async function imageOf(file) {
    if (file !== shownFile) {
      shownFile = file;
      try {
        shownImage = await loadImage(file);
      } catch (err) {
        shownImage = null;
      }
    }
    return shownImage;
  }

  function loadImage(file) {
    return new Promise((resolve, reject) => {
      const url = URL.createObjectURL(file);
      const image = new Image();
      image.onload = () => resolve(image); // EXIF orientation is applied, as the service applies it
      image.onerror = () => {
        URL.revokeObjectURL(url);
        reject(new Error("not an image"));
      };
      image.src = url;
    });
  }

  function buildMasks(entities) {
    return entities.map((entity, i) => {
      if (!entity.mask) return null;
      let bits;
      try {
        bits = window.GMNERRle.decodeMask(entity.mask);
      } catch (err) {
        return null; // a broken mask costs its fill, not the page
      }
      const [height, width] = entity.mask.size;
      const layer = document.createElement("canvas");
      layer.width = width;
      layer.height = height;
      const ctx = layer.getContext("2d");
      const pixels = ctx.createImageData(width, height);
      const c = PALETTE[i % PALETTE.length];
      for (let p = 0; p < bits.length; p++) {
        if (bits[p]) {
          const o = p * 4;
          pixels.data[o] = c[0];
          pixels.data[o + 1] = c[1];
          pixels.data[o + 2] = c[2];
          pixels.data[o + 3] = 255;
        }
      }
      ctx.putImageData(pixels, 0, 0);
      return layer;
    });
  }

  function draw() {
    if (!scene) return;
    const { image, entities, masks } = scene;
    const width = image.naturalWidth;
    const height = image.naturalHeight;
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(image, 0, 0, width, height);
    const focus = pinned !== null ? pinned : hovered;
    const line = Math.max(2, Math.round(Math.min(width, height) / 200));
    const fontSize = Math.max(12, Math.round(Math.min(width, height) / 35));
    let drawn = 0;

    entities.forEach((entity, i) => {
      if (!masks[i]) return;
      ctx.globalAlpha = focus === null ? MASK_ALPHA : focus === i ? 0.65 : 0.15;
      ctx.drawImage(masks[i], 0, 0, width, height);
    });
    ctx.globalAlpha = 1;
    const labels = [];
    entities.forEach((entity, i) => {
      if (!entity.box && !masks[i]) return;
      drawn += 1;
      const dim = focus !== null && focus !== i;
      if (entity.box) {
        const [x1, y1, x2, y2] = entity.box;
        ctx.strokeStyle = colour(i, dim ? 0.35 : 1);
        ctx.lineWidth = focus === i ? line * 2 : line;
        ctx.strokeRect(x1 + 0.5, y1 + 0.5, x2 - x1, y2 - y1);
        labels.push([i, x1, y1, dim]);
      } else {
        const start = firstMaskPixel(entity.mask);
        if (start) labels.push([i, start[0], start[1], dim]);
      }
    });
    ctx.font = `${fontSize}px sans-serif`;
    ctx.textBaseline = "top";
    labels.forEach(([i, x, y, dim]) => drawLabel(ctx, entities[i], i, x, y, fontSize, width, height, dim));
    canvas.dataset.drawn = String(drawn);
  }

  function drawLabel(ctx, entity, i, x, y, fontSize, width, height, dim) {
    const text = `${entity.text} (${entity.type})`;
    const pad = Math.max(2, Math.round(fontSize / 5));
    const boxW = ctx.measureText(text).width + 2 * pad;
    const boxH = fontSize + 2 * pad;
    let ly = y - boxH >= 0 ? y - boxH : y;
    const lx = Math.min(Math.max(0, x), Math.max(0, width - boxW));
    ly = Math.min(Math.max(0, ly), Math.max(0, height - boxH));
    ctx.globalAlpha = dim ? 0.4 : 1;
    ctx.fillStyle = colour(i);
    ctx.fillRect(lx, ly, boxW, boxH);
    const c = PALETTE[i % PALETTE.length];
    ctx.fillStyle = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 150 ? "#000" : "#fff";
    ctx.fillText(text, lx + pad, ly + pad);
    ctx.globalAlpha = 1;
  }

  function firstMaskPixel(mask) {
    // The top-left corner of the mask's bounding box: where a box's label would go.
    const bits = window.GMNERRle.decodeMask(mask);
    const width = mask.size[1];
    let minX = Infinity;
    let minY = Infinity;
    for (let p = 0; p < bits.length; p++) {
      if (bits[p]) {
        minX = Math.min(minX, p % width);
        minY = Math.min(minY, Math.floor(p / width));
      }
    }
    return minX === Infinity ? null : [minX, minY];
  }

  function renderTable(answer) {
    tbody.textContent = "";
    if (!answer.entities.length) {
      const row = tbody.insertRow();
      const cell = row.insertCell();
      cell.colSpan = 7;
      cell.className = "hint";
      cell.textContent = "No named entity found in this post.";
    }
    answer.entities.forEach((entity, i) => {
      const row = tbody.insertRow();
      row.dataset.index = String(i);
      row.tabIndex = 0;
      const swatch = row.insertCell();
      swatch.innerHTML = `<span class="swatch" style="background:${colour(i)}"></span>`;
      cell(row, entity.text, "entity");
      cell(row, entity.type, "type");
      cell(row, entity.expression || "—", "expression");
      let groundable = "—";
      if (entity.groundable === true) groundable = entity.box ? "yes" : "yes, no box";
      else if (entity.groundable === false) groundable = "no";
      if (entity.visual_reason && entity.visual_reason !== "not_groundable") {
        groundable += ` (${REASONS[entity.visual_reason] || entity.visual_reason})`;
      }
      cell(row, groundable, "groundable");
      cell(row, scores(entity), "score");
      cell(row, entity.degraded && entity.degraded.length ? entity.degraded.join(", ") : "—", "degraded");
      row.addEventListener("mouseenter", () => { hovered = i; draw(); markRows(); });
      row.addEventListener("mouseleave", () => { hovered = null; draw(); markRows(); });
      const toggle = () => { pinned = pinned === i ? null : i; draw(); markRows(); };
      row.addEventListener("click", toggle);
      row.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); }
      });
    });
    const parts = [`${answer.entities.length} entit${answer.entities.length === 1 ? "y" : "ies"}`, `task ${answer.tasks}`];
    if (answer.degraded && answer.degraded.length) parts.push(`degraded: ${answer.degraded.join(", ")}`);
    const total = Object.values(answer.timings_ms || {}).reduce((a, b) => a + b, 0);
    if (total) parts.push(`stage time ${Math.round(total)} ms`);
    if (answer.request_id) parts.push(`request ${answer.request_id}`);
    summary.textContent = parts.join(" · ");
  }

  function cell(row, text, name) {
    const td = row.insertCell();
    td.textContent = text;
    td.className = name;
    return td;
  }

  function scores(entity) {
    const parts = [];
    if (typeof entity.groundable_score === "number") parts.push(`ve ${entity.groundable_score.toFixed(2)}`);
    if (typeof entity.box_score === "number") parts.push(`box ${entity.box_score.toFixed(2)}`);
    if (typeof entity.mask_score === "number") parts.push(`mask ${entity.mask_score.toFixed(2)}`);
    return parts.length ? parts.join(" · ") : "—";
  }

  function markRows() {
    const focus = pinned !== null ? pinned : hovered;
    tbody.querySelectorAll("tr").forEach((row) => {
      const index = row.dataset.index === undefined ? null : Number(row.dataset.index);
      row.classList.toggle("highlighted", index !== null && index === focus);
      row.classList.toggle("pinned", index !== null && index === pinned);
    });
  }

  function formatBytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }
})();
