#include "optiq/cli/profile_options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "optiq/core/error.h"
#include "optiq/core/parallel.h"
#include "optiq/core/progress.h"

namespace optiq::cli {

void add_profile_options(CLI::App* command, ProfileCommandOptions& options, bool calib_required,
                         bool with_metric) {
  auto* calib = command->add_option("--calib", options.calib, "Calibration text file (UTF-8)");
  if (calib_required) calib->required();
  command->add_option("--samples", options.samples, "Calibration sequences")
      ->check(CLI::PositiveNumber);
  command->add_option("--seq-len", options.seq_len,
                      "Tokens per calibration sequence (capped at the model's context)")
      ->check(CLI::Range(2, 1 << 20));
  command->add_option("--bits", options.bits, "Candidate bit widths (2, 3, 4, 5, 6, 8)")
      ->delimiter(',');
  command->add_option("--group-size", options.group_sizes, "Candidate group sizes (32, 64, 128)")
      ->delimiter(',');
  if (with_metric) {
    command->add_option("--metric", options.metrics, "Damage metrics to measure: kl, mse")
        ->delimiter(',');
  }
  command->add_flag("--include-embedding", options.include_embedding,
                    "Also profile the token embedding (always for GGUF, and when tied to the "
                    "output)");
  command->add_option("--format", options.format,
                      "Output the plan is for: mlx (affine candidates from --bits and "
                      "--group-size) or gguf (ggml types from --types)")
      ->check(CLI::IsMember({"mlx", "gguf"}));
  command->add_option("--types", options.types,
                      "GGUF candidate types (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_0, Q4_0, Q4_1, "
                      "Q5_0, Q5_1)")
      ->delimiter(',');
  add_memory_option(command, options.max_memory);
}

ExportFormat export_format_of(const ProfileCommandOptions& options) {
  return options.format.empty() ? ExportFormat::kMlx : parse_export_format(options.format);
}

std::vector<QuantFormat> requested_formats(const ProfileCommandOptions& options) {
  std::vector<QuantFormat> formats;
  if (export_format_of(options) == ExportFormat::kGguf) {
    for (const std::string& name : options.types) {
      std::optional<GgmlType> type = parse_ggml_type(name);
      if (!type || ggml_block_size(*type) == 1) {
        fail("--types '{}' is not a quantized ggml type (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_0, "
             "Q4_0, Q4_1, Q5_0, Q5_1)",
             name);
      }
      formats.push_back(QuantFormat::ggml_format(*type));
    }
    return formats;
  }
  for (int bits : options.bits) {
    for (int group : options.group_sizes) {
      formats.push_back(QuantFormat::affine_format(bits, group));
    }
  }
  return formats;
}

ProfileDocument run_profile_command(const LoadedModel& loaded, const std::string& model_path,
                                    const ProfileCommandOptions& options) {
  const Model& model = loaded.model;
  ProfileOptions profile_options;
  profile_options.formats = requested_formats(options);
  profile_options.export_format = export_format_of(options);
  profile_options.measure_kl = profile_options.measure_mse = false;
  for (const std::string& metric : options.metrics) {
    if (metric == "kl") {
      profile_options.measure_kl = true;
    } else if (metric == "mse") {
      profile_options.measure_mse = true;
    } else {
      fail("invalid metric '{}': expected kl or mse", metric);
    }
  }
  profile_options.include_embedding = options.include_embedding;

  int64_t seq_len = options.seq_len;
  if (seq_len > model.config.max_positions) {
    spdlog::info("--seq-len {} exceeds the model's context of {}; using {}", seq_len,
                 model.config.max_positions, model.config.max_positions);
    seq_len = model.config.max_positions;
  }
  std::string text = read_text_file(options.calib);
  CalibrationSet calibration = make_calibration_set(*loaded.tokenizer, text, options.samples, seq_len);
  if (static_cast<int64_t>(calibration.sequences.size()) < options.samples) {
    spdlog::warn("calibration text has {} tokens: {} sequences of {} instead of the {} requested",
                 calibration.text_tokens, calibration.sequences.size(), seq_len, options.samples);
  }
  const ModelConfig& c = model.config;
  const int64_t S = static_cast<int64_t>(calibration.sequences.size());
  const uint64_t limit = memory_limit_bytes(options.max_memory);
  const MemoryEstimate memory = fit_profile_memory(model, S, seq_len, limit);
  profile_options.batch = memory.batch;
  const int64_t batches = (S + memory.batch - 1) / memory.batch;
  std::vector<ProfileTarget> targets = profile_targets(model, options.include_embedding, profile_options.export_format);
  std::vector<std::string> names;
  for (const QuantFormat& f : profile_options.formats) names.push_back(f.name());
  std::fprintf(stderr, "profile configuration\n");
  std::fprintf(stderr, "  model          %s (%s, %lld layers, %lld parameters)\n", model_path.c_str(),
               c.architecture.c_str(), static_cast<long long>(c.n_layers),
               static_cast<long long>(parameter_count(model)));
  std::fprintf(stderr, "  calibration    %s: %lld x %lld = %lld tokens\n", options.calib.c_str(),
               static_cast<long long>(S), static_cast<long long>(seq_len),
               static_cast<long long>(calibration.tokens()));
  std::fprintf(stderr, "  tensors        %zu\n", targets.size());
  std::fprintf(stderr, "  output         %s\n",
               std::string(export_format_name(profile_options.export_format)).c_str());
  std::fprintf(stderr, "  formats        %s (plus unquantized)\n", fmt::format("{}", fmt::join(names, ", ")).c_str());
  std::fprintf(stderr, "  metrics        %s\n", fmt::format("{}", fmt::join(options.metrics, ", ")).c_str());
  print_memory_estimate(memory, limit);
  if (batches > 1) {
    std::fprintf(stderr, "  batches        %lld of up to %lld sequences (all %lld do not fit "
                 "the memory limit)\n",
                 static_cast<long long>(batches), static_cast<long long>(memory.batch),
                 static_cast<long long>(S));
  }
  std::fprintf(stderr, "  threads        %d\n", thread_count());

  Progress progress("profile", static_cast<int64_t>(targets.size()) * batches, "tensor");
  auto on_tensor = [&](size_t, size_t, const TensorProfile& t) {
    std::string detail = fmt::format("{:<36} [{}, {}]", t.target.module, t.target.rows, t.target.cols);
    for (const Measurement& m : t.candidates) {
      if (m.format.is_float()) continue;
      detail += fmt::format(" {}={:.2e}", m.format.name(), profile_options.measure_kl ? m.kl : m.mse);
    }
    if (!t.skipped.empty()) detail += fmt::format(" (skipped {})", fmt::join(t.skipped, ","));
    if (!t.fallbacks.empty()) detail += fmt::format(" (fallback {})", fmt::join(t.fallbacks, ","));
    progress.advance(1, detail);
  };
  ProfileDocument document;
  document.result = run_profile(model, calibration, profile_options, on_tensor);
  ProfileInfo& info = document.info;
  info.optiq_version = "0.1.0";
  info.model_path = model_path;
  info.model_hash = model_hash(model);
  info.architecture = c.architecture;
  info.calibration_file = options.calib;
  info.samples = S;
  info.requested_samples = options.samples;
  info.seq_len = seq_len;
  info.calibration_tokens = calibration.tokens();
  if (profile_options.measure_kl) info.metrics.push_back("kl");
  if (profile_options.measure_mse) info.metrics.push_back("mse");

  const ProfileTiming& t = document.result.timing;
  const double total = t.reference_seconds + t.quantize_seconds + t.evaluate_seconds;
  std::fprintf(stderr, "\nprofile summary\n");
  const double reference_tokens =
      static_cast<double>(calibration.tokens()) * (t.batches > 1 ? 2 : 1);
  std::fprintf(stderr, "  reference pass   %8.2fs  (%.0f calibration tokens/s)\n", t.reference_seconds,
               reference_tokens / std::max(t.reference_seconds, 1e-9));
  std::fprintf(stderr, "  quantization     %8.2fs\n", t.quantize_seconds);
  std::fprintf(stderr, "  evaluation       %8.2fs  (%lld tensor x format evaluations, %.2f/s)\n",
               t.evaluate_seconds, static_cast<long long>(t.evaluations),
               t.evaluations / std::max(t.evaluate_seconds, 1e-9));
  std::fprintf(stderr, "  total            %8.2fs\n", total);
  return document;
}

}  // namespace optiq::cli
