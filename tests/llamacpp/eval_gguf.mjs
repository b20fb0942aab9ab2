// Evaluates a GGUF file with llama.cpp (through node-llama-cpp) on given
// token ids and writes what the C++ test compares with optiq.
//
// Usage: node eval_gguf.mjs REQUEST.json RESULT.json
// REQUEST: {"package_dir": folder containing node_modules/node-llama-cpp,
//           "model": GGUF path, "threads": N, "context": n_ctx,
//           "tokens": ids to evaluate (BOS included),
//           "greedy_prompt": ids, "greedy_count": new tokens}
// RESULT:  {"top1": argmax id after each position,
//           "next_prob": probability of tokens[i + 1] after position i,
//           "vocab_entries": size of the last distribution,
//           "prob_sum": its total, "greedy": greedy continuation ids}
// Probabilities come from controlledEvaluate with sampling at temperature
// 1 and no top-k, top-p or min-p cut, so they are softmax(logits).
import {readFileSync, writeFileSync} from "node:fs";
import {join} from "node:path";
import {pathToFileURL} from "node:url";

const [requestPath, resultPath] = process.argv.slice(2);
const request = JSON.parse(readFileSync(requestPath, "utf8"));
const entry = join(request.package_dir, "node_modules", "node-llama-cpp",
                   "dist", "index.js");
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(entry).href);

const llama = await getLlama({gpu: false, build: "never",
                              logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: request.model, gpuLayers: 0});
const context = await model.createContext({
  contextSize: request.context,
  batchSize: request.context,
  threads: request.threads,
});
const sequence = context.getSequence();

const sampling = {temperature: 1, topK: 0, topP: 1, minP: 0, seed: 1};
const tokens = request.tokens;
const input = tokens.map(
    (token) => [token, {generateNext: {probabilities: true,
                                       options: sampling}}]);
const outputs = await sequence.controlledEvaluate(input);
const top1 = [];
const nextProb = [];
let vocabEntries = 0;
let probSum = 0;
outputs.forEach((output, i) => {
  const probabilities = output.next.probabilities;
  top1.push(probabilities.keys().next().value);
  if (i + 1 < tokens.length) {
    nextProb.push(probabilities.get(tokens[i + 1]) ?? 0);
  }
  vocabEntries = probabilities.size;
  probSum = 0;
  for (const p of probabilities.values()) probSum += p;
});

await sequence.clearHistory();
const greedy = [];
if (request.greedy_count > 0) {
  for await (const token of sequence.evaluate(request.greedy_prompt,
                                              {temperature: 0})) {
    greedy.push(token);
    if (greedy.length >= request.greedy_count) break;
  }
}

writeFileSync(resultPath, JSON.stringify({
  top1, next_prob: nextProb, vocab_entries: vocabEntries, prob_sum: probSum,
  greedy,
}));
await context.dispose();
await model.dispose();
await llama.dispose();
