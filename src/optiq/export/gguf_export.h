// Writes a model as a GGUF v3 file that llama.cpp loads.
//
// Layout follows llama.cpp's convert_hf_to_gguf.py and gguf-py constants:
// `general.architecture` "llama" (Llama, Mistral, llama2.c checkpoints) or
// "qwen2"; hyperparameters under "<arch>."; tensors named token_embd,
// blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm,
// ffn_gate, ffn_up, ffn_down}, output_norm and output (absent when the
// output head is tied to the embedding). For "llama" the q/k rows hold
// RoPE pairs interleaved (2i, 2i+1), as llama.cpp's rope type NORM rotates
// them; Hugging Face's halves layout is permuted on the way out. "qwen2"
// uses rope type NEOX (halves), so its rows stay as they are. Norms and
// biases are F32.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "optiq/model/model.h"
#include "optiq/plan/planner.h"
#include "optiq/quant/ggml_quant.h"

namespace optiq {

// A SentencePiece-style vocabulary as llama.cpp's "llama" tokenizer reads
// it: one piece per id, with '▁' (U+2581) for a space and "<0xXX>" byte
// pieces, a merge score per piece and a token type.
struct GgufVocab {
  // llama.cpp token types (gguf-py TokenType).
  enum TokenType : int32_t {
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6,
  };
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> token_types;
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t unknown_id = 0;
  bool add_bos = true;
  bool add_eos = false;
};

// Reads a SentencePiece `.model` file through libsentencepiece. Control,
// unknown, byte, user-defined and unused pieces get their token types.
// Throws optiq::Error naming the file when libsentencepiece rejects it.
GgufVocab read_sentencepiece_vocab(const std::filesystem::path& path);

// Reads a llama2.c tokenizer `.bin` and converts it to SentencePiece
// conventions: ' ' becomes '▁', "\n<s>\n" and "\n</s>\n" become the
// control pieces "<s>" and "</s>", id 0 is the unknown piece "<unk>" and
// "<0xXX>" pieces are byte tokens.
GgufVocab read_llama2c_vocab(const std::filesystem::path& path);

// The vocabulary for `model`: `tokenizer` when not empty (a `.model` or a
// llama2.c `.bin`), else tokenizer.model in the model's folder. add_bos
// and add_eos follow tokenizer_config.json there when present. Throws
// optiq::Error when no SentencePiece or llama2.c vocabulary is found (a
// tokenizer.json-only model is not supported).
GgufVocab find_gguf_vocab(const Model& model,
                          const std::filesystem::path& tokenizer);

struct GgufExportOptions {
  // Mean x² per input channel by module, for importance-weighted ggml
  // quantization; may be null.
  const std::map<std::string, std::vector<float>>* importance = nullptr;
  // Written as general.name when not empty.
  std::string name;
};

struct GgufExportSummary {
  uint64_t tensor_bytes = 0;  // bytes of all tensor data
  uint64_t file_bytes = 0;    // size of the written file
  int64_t tensor_count = 0;
  // Tensors stored in another type than asked because their row length is
  // not a multiple of the block size (ggml_fallback_type).
  int64_t fallback_count = 0;
  // Parameters per stored 2-D weight type name.
  std::map<std::string, int64_t> params_by_type;
};

// llama.cpp's general.file_type (llama_ftype) for a file whose weights are
// mostly `type`: 0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 7 Q8_0, 8 Q5_0, 9 Q5_1,
// 10 Q2_K, 11 Q3_K_S, 14 Q4_K_S, 16 Q5_K_S, 18 Q6_K, 32 BF16.
uint32_t gguf_file_type(GgmlType type);

// Writes `model` to `path` atomically (nothing is left there on error).
// Each 2-D weight gets the plan's format for its module when `plan` is not
// null and lists it (ggml types, or f32/f16/bf16), else `default_type`;
// a type whose block size does not divide the row length falls back as
// llama.cpp's quantize tool does. `vocab` may be null for a file without
// a tokenizer (llama.cpp then refuses to load it).
// Throws optiq::Error for an architecture other than Llama, Mistral or
// Qwen2, llama3 RoPE scaling, a plan entry that does not match the model
// or has an affine format, or a weight that is not finite.
GgufExportSummary export_gguf(const Model& model, const Plan* plan,
                              GgmlType default_type, const GgufVocab* vocab,
                              const std::filesystem::path& path,
                              const GgufExportOptions& options = {});

}  // namespace optiq
