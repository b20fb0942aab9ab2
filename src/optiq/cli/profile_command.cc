// optiq profile: per-tensor, per-format damage on calibration text.
#include <cstdio>

#include "optiq/cli/commands.h"
#include "optiq/cli/profile_options.h"

namespace optiq::cli {

void register_profile(CLI::App& app) {
  struct Options {
    std::string model;
    std::string tokenizer;
    std::string output;
    ProfileCommandOptions profile;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "profile", "Measure how much each weight tensor suffers at each candidate format");
  command->add_option("model", options->model, "Model folder or llama2.c checkpoint")->required();
  command->add_option("--tokenizer", options->tokenizer,
                      "Tokenizer file (default: the one in the model folder)");
  command->add_option("-o,--output", options->output, "Profile to write (JSON)")->required();
  add_profile_options(command, options->profile, /*calib_required=*/true);
  command->callback([options] {
    LoadedModel loaded = load_model_and_tokenizer(options->model, options->tokenizer);
    ProfileDocument document = run_profile_command(loaded, options->model, options->profile);
    write_profile(options->output, document);
    std::printf("wrote %s (%zu tensors)\n", options->output.c_str(), document.result.tensors.size());
  });
}

}  // namespace optiq::cli
