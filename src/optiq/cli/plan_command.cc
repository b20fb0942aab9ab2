// optiq plan: pick one format per tensor under a memory budget.
#include <cstdio>

#include "optiq/cli/commands.h"
#include "optiq/cli/plan_printing.h"
#include "optiq/plan/planner.h"

namespace optiq::cli {

void register_plan(CLI::App& app) {
  struct Options {
    std::string profile;
    std::string output;
    PlanRequest request;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "plan", "Choose the format of every tensor that minimises total damage within a budget");
  command->add_option("profile", options->profile, "Profile written by optiq profile")->required();
  command->add_option("--budget", options->request.budget,
                      "Size limit: bits per weight (4bpw), bytes (3.2GB, 700MiB, 304096B) or a "
                      "reduction from 16-bit (40%)")
      ->required();
  command->add_option("--metric", options->request.metric, "Damage to minimise: kl or mse");
  command->add_option("--keep", options->request.keep,
                      "NAME_REGEX=FORMAT: hold matching tensors to a format (repeatable)");
  command->add_option("-o,--output", options->output, "Plan to write (JSON)")->required();
  command->callback([options] {
    ProfileDocument profile = read_profile(options->profile);
    Plan plan = make_plan(profile, options->request);
    print_plan(plan);
    write_plan(options->output, plan);
    std::printf("wrote %s\n", options->output.c_str());
  });
}

}  // namespace optiq::cli
