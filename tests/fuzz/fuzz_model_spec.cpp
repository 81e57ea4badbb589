// libFuzzer entry point for the model-spec and experiment loaders (CKPT_FUZZ=ON, clang): every
// input is read as a model file, as an experiment file and as a Hugging Face config.json (the
// import command), and besides "no crash, no sanitizer report, no hang" the loaders' promises
// are checked, so a violation is a finding too:
//   - an error is one line, printable and short (printable.h), of kind bad_input (or
//     out_of_memory when reading the document exhausted memory);
//   - a model file is judged the same by both loaders (the same spec, or the same message);
//   - what loads validates, and its canonical JSON loads back to the same spec or experiment and
//     is a fixed point of to_json.
// README ("Fuzzing") says how to run it; the seeds are the presets, tests/data/malformed and
// tests/fuzz/seeds, with tests/fuzz/model_spec.dict.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "ckpt/experiment.h"
#include "ckpt/model_spec.h"
#include "ckpt/printable.h"
#include "ckpt/templates.h"
#include "fuzz_promises.h"

namespace {

[[noreturn]] void broken(const char* promise, const std::string& detail) { fuzz::broken("fuzz_model_spec", promise, detail); }
void check_error(const ckpt::Error& e) { fuzz::check_error("fuzz_model_spec", e); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);

    const ckpt::Result<ckpt::ModelSpec> spec = ckpt::parse_model_spec(text);
    const ckpt::Result<ckpt::Experiment> experiment = ckpt::parse_experiment(text);
    if (!spec) check_error(spec.error());
    if (!experiment) check_error(experiment.error());
    // An experiment is a JSON object with a "model" key (nlohmann's own reading decides).
    const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    const bool wrapped = !doc.is_discarded() && doc.is_object() && doc.contains("model");

    if (!wrapped) {
        // A model file, good or bad: both loaders judge it alike (and word it alike when it is
        // JSON: in broken text the experiment loader may meet another error first).
        if (spec.ok() != experiment.ok()) broken("the loaders disagree on a model file", "");
        if (!spec && !doc.is_discarded() && spec.error().message != experiment.error().message)
            broken("the loaders word an error differently",
                   ckpt::printable(spec.error().message, 300) + " | " + ckpt::printable(experiment.error().message, 300));
        if (spec && (!(experiment->spec == *spec) || !(experiment->run == ckpt::ExperimentRun{})))
            broken("bare model read differently", "");
    } else if (spec) {
        broken("a model file with a \"model\" key was accepted", "");
    }

    if (spec) {
        if (!ckpt::validate_model_spec(*spec)) broken("accepted spec does not validate", "");
        const std::string json = ckpt::to_json(*spec);
        const ckpt::Result<ckpt::ModelSpec> again = ckpt::parse_model_spec(json);
        if (!again) broken("canonical JSON refused", again.error().message);
        if (!(*again == *spec)) broken("round trip changed the spec", "");
        if (ckpt::to_json(*again) != json) broken("to_json not a fixed point", "");
    }
    if (experiment) {
        if (!ckpt::validate_model_spec(experiment->spec)) broken("accepted experiment does not validate", "");
        const std::string json = ckpt::to_json(*experiment);
        const ckpt::Result<ckpt::Experiment> again = ckpt::parse_experiment(json);
        if (!again) broken("canonical experiment refused", again.error().message);
        if (!(*again == *experiment)) broken("experiment round trip changed it", "");
        if (ckpt::to_json(*again) != json) broken("experiment to_json not a fixed point", "");
    }
    // The config importer: the same kind of errors; what it builds validates and round-trips.
    const ckpt::Result<ckpt::ModelSpec> imported = ckpt::import_hf_config(text, 2, 16);
    if (!imported) {
        check_error(imported.error());
    } else {
        if (!ckpt::validate_model_spec(*imported)) broken("imported spec does not validate", "");
        const ckpt::Result<ckpt::ModelSpec> again = ckpt::parse_model_spec(ckpt::to_json(*imported));
        if (!again || !(*again == *imported)) broken("imported spec does not round-trip", "");
    }
    return 0;
}
