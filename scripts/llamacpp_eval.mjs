// Measures perplexity, KL divergence and top-1 agreement of GGUF files with
// llama.cpp itself (the CPU build shipped in node-llama-cpp 3.21.1), to
// cross-check `optiq eval kld` and `optiq eval perplexity`.
//
// Usage: node scripts/llamacpp_eval.mjs REQUEST.json RESULT.json
// REQUEST: {"package_dir": folder containing node_modules/node-llama-cpp,
//           "base": GGUF path, "candidates": [GGUF paths],
//           "tokens": ids of the whole text, BOS first,
//           "ctx": tokens per chunk, "chunks": chunks to score,
//           "threads": CPU threads}
// RESULT:  {"ctx", "chunks", "vocab_entries",
//           "models": [{"path", "perplexity", "tokens_scored"} for the base,
//                      then {"path", "perplexity", "mean_kld",
//                            "top1_agreement", "tokens_scored"}
//                      for each candidate]}
//
// Protocol (llama.cpp's perplexity tool): chunk i is tokens[i*ctx,
// (i+1)*ctx) with its first token replaced by BOS (tokens[0]), and positions
// j in [ctx/2, ctx-2] are scored, each predicting token j+1 of the chunk.
// Only as many whole chunks as the text contains are scored.
//
// Probabilities come from controlledEvaluate with sampling at temperature 1
// and no top-k, top-p or min-p cut, so they are softmax(logits) in float32.
// All models stay loaded, and each chunk is evaluated by the base and then
// by every candidate. Memory beyond the models is one chunk of the base's
// distributions (ctx/2 x vocabulary float32 values).
import {readFileSync, writeFileSync} from "node:fs";
import {join} from "node:path";
import {pathToFileURL} from "node:url";

// A candidate probability of zero (absent from its distribution or
// underflowed in float32) is raised to this floor, so that log() stays
// finite and such a token adds p_base * (log p_base + 69.08) to the KL sum.
const kProbabilityFloor = 1e-30;

function fail(message) {
  process.stderr.write(`llamacpp_eval: ${message}\n`);
  process.exit(1);
}

function readRequest(path) {
  let request;
  try {
    request = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    fail(`cannot read request ${path}: ${error.message}`);
  }
  for (const key of ["package_dir", "base", "candidates", "tokens", "ctx",
                     "chunks", "threads"]) {
    if (request[key] === undefined) fail(`request ${path} has no "${key}"`);
  }
  if (!Number.isInteger(request.ctx) || request.ctx < 4) {
    fail(`request ${path}: ctx must be an integer >= 4, got ${request.ctx}`);
  }
  if (!Number.isInteger(request.chunks) || request.chunks < 1) {
    fail(`request ${path}: chunks must be an integer >= 1, ` +
         `got ${request.chunks}`);
  }
  return request;
}

const [requestPath, resultPath] = process.argv.slice(2);
if (resultPath === undefined) {
  fail("usage: node llamacpp_eval.mjs REQUEST.json RESULT.json");
}
const request = readRequest(requestPath);
const {ctx, tokens} = request;
const bos = tokens[0];
const firstScored = Math.floor(ctx / 2);
const lastScored = ctx - 2;
const chunks = Math.min(request.chunks, Math.floor(tokens.length / ctx));
if (chunks < 1) {
  fail(`the text has ${tokens.length} tokens, fewer than one chunk of ${ctx}`);
}
if (chunks < request.chunks) {
  process.stderr.write(`llamacpp_eval: the text contains ${chunks} chunks of ` +
                       `${ctx} tokens, not ${request.chunks}\n`);
}

const entry = join(request.package_dir, "node_modules", "node-llama-cpp",
                   "dist", "index.js");
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(entry).href);
const llama = await getLlama({gpu: false, build: "never",
                              logLevel: LlamaLogLevel.error});

// Loads a GGUF file with a context of exactly ctx cells. node-llama-cpp
// keeps one cell free (it shifts the context when a sequence reaches
// contextSize - 1 tokens), so a chunk's first ctx-1 tokens fit. They are
// all that is needed: the last scored position is ctx-2.
async function openModel(path) {
  const model = await llama.loadModel({modelPath: path, gpuLayers: 0});
  const context = await model.createContext({
    contextSize: ctx,
    batchSize: ctx,
    threads: request.threads,
  });
  return {path, model, context, sequence: context.getSequence(),
          nllSum: 0, klSum: 0, top1Matches: 0, scored: 0};
}

const sampling = {temperature: 1, topK: 0, topP: 1, minP: 0, seed: 1};

// Evaluates one chunk as a single batch and calls onDistribution(j, map)
// for each scored position j, with map: token id -> probability, sorted
// from the most to the least probable. The map is emptied afterwards so
// that only one position's map is alive at a time.
async function evaluateChunk(handle, chunk, onDistribution) {
  const input = chunk.slice(0, ctx - 1).map((token, j) => {
    if (j < firstScored) return token;
    return [token, {generateNext: {probabilities: true, options: sampling}}];
  });
  // node-llama-cpp catches and only logs exceptions thrown by the callback.
  // The first one is kept here and raised after the evaluation.
  let callbackError = null;
  await handle.sequence.controlledEvaluate(input, {
    onTokenResult(j, output) {
      const probabilities = output.next?.probabilities;
      if (callbackError !== null || probabilities === undefined) return;
      try {
        onDistribution(j, probabilities);
      } catch (error) {
        callbackError = error;
      }
      probabilities.clear();
    },
  });
  await handle.sequence.clearHistory();
  if (callbackError !== null) throw callbackError;
}

function total(probabilities) {
  let sum = 0;
  for (const p of probabilities.values()) sum += p;
  return sum;
}

// Every distribution must cover the same vocabulary as the first one.
let vocabEntries = 0;
function checkSize(path, j, probabilities) {
  if (vocabEntries === 0) vocabEntries = probabilities.size;
  if (probabilities.size !== vocabEntries) {
    throw new Error(`${path}: the distribution at position ${j} has ` +
                    `${probabilities.size} entries, expected ${vocabEntries}`);
  }
}

// Stores the base's distributions of one chunk, normalized in float64
// because float32 softmax sums differ from 1 by rounding, and adds their
// negative log-likelihoods.
function recordBase(base, chunk, baseRows, baseTop1) {
  return (j, probabilities) => {
    checkSize(base.path, j, probabilities);
    const row = j - firstScored;
    if (baseRows[row] === undefined) {
      baseRows[row] = new Float64Array(vocabEntries);
    }
    const dense = baseRows[row];
    dense.fill(0);
    const scale = 1 / total(probabilities);
    for (const [token, p] of probabilities) {
      if (token < 0 || token >= vocabEntries) {
        throw new Error(`${base.path}: token id ${token} is outside the ` +
                        `vocabulary of ${vocabEntries} entries`);
      }
      dense[token] = p * scale;
    }
    baseTop1[row] = probabilities.keys().next().value;
    base.nllSum -= Math.log(Math.max(dense[chunk[j + 1]], kProbabilityFloor));
    base.scored += 1;
  };
}

// Compares a candidate's distributions with the base's stored ones:
// KL(base || candidate) = sum_v p_base(v) * (log p_base(v) - log p_cand(v)).
function compareCandidate(candidate, chunk, baseRows, baseTop1) {
  return (j, probabilities) => {
    checkSize(candidate.path, j, probabilities);
    const row = j - firstScored;
    const dense = baseRows[row];
    const scale = 1 / total(probabilities);
    let kl = 0;
    for (let token = 0; token < vocabEntries; ++token) {
      const pBase = dense[token];
      if (pBase === 0) continue;
      const pCandidate = Math.max((probabilities.get(token) ?? 0) * scale,
                                  kProbabilityFloor);
      kl += pBase * (Math.log(pBase) - Math.log(pCandidate));
    }
    candidate.klSum += kl;
    const pNext = (probabilities.get(chunk[j + 1]) ?? 0) * scale;
    candidate.nllSum -= Math.log(Math.max(pNext, kProbabilityFloor));
    if (probabilities.keys().next().value === baseTop1[row]) {
      candidate.top1Matches += 1;
    }
    candidate.scored += 1;
  };
}

const base = await openModel(request.base);
const candidates = [];
for (const path of request.candidates) candidates.push(await openModel(path));

const scoredPerChunk = lastScored - firstScored + 1;
const baseRows = new Array(scoredPerChunk);
const baseTop1 = new Int32Array(scoredPerChunk);
const started = Date.now();
for (let i = 0; i < chunks; ++i) {
  const chunk = tokens.slice(i * ctx, (i + 1) * ctx);
  chunk[0] = bos;
  await evaluateChunk(base, chunk, recordBase(base, chunk, baseRows, baseTop1));
  for (const candidate of candidates) {
    await evaluateChunk(candidate, chunk,
                        compareCandidate(candidate, chunk, baseRows, baseTop1));
  }
  const seconds = (Date.now() - started) / 1000;
  const perplexities = [base, ...candidates].map(
      (m) => Math.exp(m.nllSum / m.scored).toFixed(4));
  process.stderr.write(`llama.cpp chunk ${i + 1}/${chunks} ` +
                       `${seconds.toFixed(1)} s, perplexity ` +
                       `${perplexities.join(" ")}\n`);
}

const models = [{
  path: base.path,
  perplexity: Math.exp(base.nllSum / base.scored),
  tokens_scored: base.scored,
}];
for (const c of candidates) {
  models.push({
    path: c.path,
    perplexity: Math.exp(c.nllSum / c.scored),
    mean_kld: c.klSum / c.scored,
    top1_agreement: c.top1Matches / c.scored,
    tokens_scored: c.scored,
  });
}
writeFileSync(resultPath, JSON.stringify(
    {ctx, chunks, vocab_entries: vocabEntries, models}, null, 2) + "\n");

for (const m of [base, ...candidates]) {
  await m.context.dispose();
  await m.model.dispose();
}
await llama.dispose();
