// Subcommands of the optiq command-line tool. Each register_* function adds
// one subcommand, its options and its callback to the app.
#pragma once

#include <CLI/CLI.hpp>

namespace optiq::cli {

void register_inspect(CLI::App& app);
void register_generate(CLI::App& app);
void register_convert(CLI::App& app);
void register_eval(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_profile(CLI::App& app);
void register_plan(CLI::App& app);
void register_quantize(CLI::App& app);
void register_export_gguf(CLI::App& app);
void register_report(CLI::App& app);

}  // namespace optiq::cli
