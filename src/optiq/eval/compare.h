// Several candidate models scored against one base model in a single pass
// over the text: the base runs once per sequence.
#pragma once

#include <vector>

#include "optiq/eval/perplexity.h"

namespace optiq {

// Returns one KldResult per candidate (candidate perplexity and KL against
// the base), plus the base's own perplexity in each result's `base`.
std::vector<KldResult> compare_models(Transformer& base, std::vector<Transformer*> candidates,
                                      const Tokenizer& tokenizer,
                                      const std::vector<EvalSequence>& sequences);

}  // namespace optiq
