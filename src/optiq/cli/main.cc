// optiq: sensitivity-aware mixed-precision quantization of Llama-family LLMs.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "optiq/cli/commands.h"
#include "optiq/core/error.h"
#include "optiq/core/log.h"
#include "optiq/core/parallel.h"
#include "optiq/core/progress.h"

int main(int argc, char** argv) {
  CLI::App app{"optiq: sensitivity-aware mixed-precision quantization of Llama-family LLMs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "optiq 0.1.0");
  int threads = 0;
  std::string log_level = "info";
  bool quiet = false;
  app.add_option("-t,--threads", threads, "Worker threads (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--log-level", log_level, "Diagnostics on stderr: debug, info, warn, error, off");
  app.add_flag("-q,--quiet", quiet, "No progress lines on stderr");
  app.parse_complete_callback([&] {
    optiq::set_log_level(log_level);
    optiq::set_thread_count(threads);
    optiq::Progress::set_enabled(!quiet);
  });

  optiq::cli::register_inspect(app);
  optiq::cli::register_generate(app);
  optiq::cli::register_convert(app);
  optiq::cli::register_eval(app);
  optiq::cli::register_tokenize(app);
  optiq::cli::register_profile(app);
  optiq::cli::register_plan(app);
  optiq::cli::register_quantize(app);
  optiq::cli::register_export_gguf(app);
  optiq::cli::register_report(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const optiq::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
