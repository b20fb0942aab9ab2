// Prompt-evaluation speed of llama.cpp on a GGUF file (CPU, through
// node-llama-cpp): a 256-token prompt evaluated as one batch, repeated,
// with the KV cache cleared between runs.
//
// Usage: node prompt_speed.mjs PACKAGE_DIR MODEL.gguf THREADS [REPEATS]
// PACKAGE_DIR contains node_modules/node-llama-cpp. Prints one JSON line:
// {"threads", "tokens", "repeats", "best_tokens_per_second",
//  "median_tokens_per_second"}.
import {join} from "node:path";
import {pathToFileURL} from "node:url";

const [packageDir, modelPath, threadsText, repeatsText] = process.argv.slice(2);
const threads = Number(threadsText);
const repeats = Number(repeatsText ?? 10);
const promptTokens = 256;
const entry = join(packageDir, "node_modules", "node-llama-cpp", "dist",
                   "index.js");
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(entry).href);

const llama = await getLlama({gpu: false, build: "never",
                              logLevel: LlamaLogLevel.error,
                              maxThreads: threads});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({
  contextSize: promptTokens,
  batchSize: promptTokens,
  threads: {ideal: threads, min: threads},
});
const sequence = context.getSequence();
const arch = model.fileInfo.metadata.general.architecture;
const vocab = Number(model.fileInfo.metadata[arch].vocab_size);
// The prompt optiq's benchmark uses: BOS, then ids spread over the vocabulary.
const tokens = [model.tokens.bos ?? 1];
for (let i = 1; i < promptTokens; ++i) tokens.push(3 + (i * 7919) % (vocab - 3));

const rates = [];
for (let r = 0; r < repeats + 1; ++r) {
  await sequence.clearHistory();
  const start = process.hrtime.bigint();
  await sequence.evaluateWithoutGeneratingNewTokens(tokens);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r > 0) rates.push(promptTokens / seconds);  // the first run warms up
}
rates.sort((a, b) => a - b);
console.log(JSON.stringify({
  threads, tokens: promptTokens, repeats,
  best_tokens_per_second: rates[rates.length - 1],
  median_tokens_per_second: rates[Math.floor(rates.length / 2)],
}));
await context.dispose();
await model.dispose();
await llama.dispose();
