// The COCO-80 detector worker: @vladmandic/human 3.3.6 on TensorFlow.js's WASM backend, driven by Python over
// stdin/stdout, one JSON object per line.
//   request:  {"id": 1, "op": "detect", "width": W, "height": H, "rgb": "<base64 of W*H*3 bytes>"}
//             {"id": 2, "op": "ping"}
//   answer:   {"id": 1, "objects": [{"label": "dog", "score": 0.61, "box": [x1, y1, x2, y2]}, ...],
//              "bodies": [...], "faces": [...], "ms": 812}     or {"id": 1, "error": "..."}
// Boxes are converted from human's [x, y, w, h] to corners here, so Python sees one convention.
// argv[2]: the node_modules folder that holds @vladmandic/human and @tensorflow/tfjs-backend-wasm.
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");

const modules = path.resolve(process.argv[2] || "node_modules");
const options = JSON.parse(process.argv[3] || "{}");
const humanDir = path.join(modules, "@vladmandic", "human");
const wasmDir = path.join(modules, "@tensorflow", "tfjs-backend-wasm", "dist");

// Node's fetch refuses file:// URLs, and TF.js loads graph models with fetch: serve model files from disk.
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => {
  const href = typeof url === "string" ? url : url.url;
  if (href.startsWith("file://")) {
    const data = await fs.promises.readFile(new URL(href));
    return new Response(data, { status: 200, headers: { "content-type": href.endsWith(".json") ? "application/json" : "application/octet-stream" } });
  }
  return realFetch(url, init);
};

// The package's "exports" map sends require() to the tfjs-node build (a native addon we do not install).
const { Human } = require(path.join(humanDir, "dist", "human.node-wasm.js"));

const human = new Human({
  backend: "wasm",
  wasmPath: wasmDir + path.sep,
  modelBasePath: "file://" + path.join(humanDir, "models") + path.sep,
  debug: false,
  async: false,
  warmup: "none",
  cacheSensitivity: 0,
  filter: { enabled: false },
  gesture: { enabled: false },
  hand: { enabled: false },
  segmentation: { enabled: false },
  object: { enabled: true, modelPath: "centernet.json", minConfidence: options.minConfidence ?? 0.2, maxDetected: 30, iouThreshold: 0.4 },
  body: { enabled: options.bodies !== false, modelPath: "movenet-lightning.json", minConfidence: 0.2, maxDetected: 1 },
  face: {
    enabled: options.faces !== false,
    detector: { modelPath: "blazeface.json", rotation: false, maxDetected: 10, minConfidence: 0.5, return: false },
    mesh: { enabled: false }, iris: { enabled: false }, description: { enabled: false }, emotion: { enabled: false },
    antispoof: { enabled: false }, liveness: { enabled: false },
  },
});

function corners(box) {
  const [x, y, w, h] = box;
  return [x, y, x + w, y + h];
}

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

async function detect(req) {
  const bytes = Buffer.from(req.rgb, "base64");
  if (bytes.length !== req.width * req.height * 3) throw new Error(`expected ${req.width * req.height * 3} bytes, got ${bytes.length}`);
  const t0 = Date.now();
  const tensor = human.tf.tensor3d(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), [req.height, req.width, 3], "int32");
  const batched = human.tf.expandDims(tensor, 0);
  let result;
  try {
    result = await human.detect(batched);
  } finally {
    human.tf.dispose([tensor, batched]);
  }
  return {
    id: req.id,
    objects: (result.object || []).map((o) => ({ label: o.label, score: o.score, box: corners(o.box) })),
    bodies: (result.body || []).map((b) => ({ label: "person", score: b.score, box: corners(b.box) })),
    faces: (result.face || []).map((f) => ({ label: "face", score: f.boxScore ?? f.score, box: corners(f.box) })),
    ms: Date.now() - t0,
  };
}

async function main() {
  await human.load();
  await human.tf.ready();
  send({ id: 0, ready: true, backend: human.tf.getBackend(), version: human.version });
  // One request at a time: the WASM backend is single-threaded here and the caller serialises anyway.
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let req;
    try {
      req = JSON.parse(line);
    } catch (err) {
      send({ id: null, error: "bad json: " + err.message });
      continue;
    }
    try {
      if (req.op === "ping") send({ id: req.id, pong: true });
      else send(await detect(req));
    } catch (err) {
      send({ id: req.id, error: String(err && err.message ? err.message : err) });
    }
  }
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write("detector worker failed: " + (err && err.stack ? err.stack : err) + "\n");
  process.exit(2);
});
