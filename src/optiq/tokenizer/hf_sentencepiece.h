// SentencePiece BPE vocabularies (Llama 2, Mistral) expressed as Hugging
// Face BPE: merge rules derived from piece scores, and the normalizer and
// decoder steps that Hugging Face's Llama tokenizer.json files use. A GGUF
// file of model type "llama" stores pieces and scores but no merges, so its
// reader needs both.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "optiq/tokenizer/hf_spec.h"

namespace optiq {

// Merge rules for BPE over `vocab` that reproduce SentencePiece's BPE, which
// repeatedly joins the adjacent pair whose concatenation is the piece with
// the highest score. For every piece with mergeable[id] (normal pieces, not
// control, unknown or <0xXX> byte pieces), each split into two mergeable
// pieces becomes a rule; rules are ordered by the joined piece's score
// (highest first), then its id, then the ids of its two parts. This is the
// order Hugging Face's SentencePiece converter produces. All three vectors
// are indexed by id and have the same length.
std::vector<std::pair<std::string, std::string>> merges_from_scores(
    const std::vector<std::string>& vocab, const std::vector<float>& scores,
    const std::vector<bool>& mergeable);

// Sets the steps of a SentencePiece-style BPE with a dummy prefix, as in
// Hugging Face's Llama 2 tokenizer.json: normalizers Prepend("▁") and
// Replace(" ", "▁"), no pre-tokenizer, and decoders Replace("▁", " "),
// ByteFallback, Fuse and Strip(" ", 1, 0). Also sets byte_fallback and
// fuse_unk on the model.
void use_sentencepiece_steps(BpeTokenizerSpec& spec);

}  // namespace optiq
